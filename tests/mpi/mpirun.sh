#!/usr/bin/env bash
# mpirun for ctest: more processes than cores (--oversubscribe), and as root where CI runs
# as root (OpenMPI refuses root without --allow-run-as-root).
#   tests/mpi/mpirun.sh NP program args...
set -euo pipefail
np=$1
shift
flags=(--oversubscribe -np "$np")
[ "$(id -u)" -eq 0 ] && flags+=(--allow-run-as-root)
exec mpirun "${flags[@]}" "$@"
