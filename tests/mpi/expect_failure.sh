#!/usr/bin/env bash
# A fault on one rank ends the whole job promptly, with a non-zero status and the failing
# rank's message:
#   tests/mpi/expect_failure.sh SECONDS PATTERN NP program args...
# passes if the job exits non-zero within SECONDS (a hang is a failure) and its output
# matches the extended regular expression PATTERN.
set -uo pipefail
seconds=$1 pattern=$2
shift 2
mpirun=$(cd "$(dirname "$0")/../../scripts" && pwd)/mpirun
start=$SECONDS
output=$(timeout --kill-after=5 "$seconds" "$mpirun" "$@" 2>&1)
status=$?
printf '%s\n' "$output"
# Judged by the time taken: mpirun's own status for a killed rank can be timeout's (137).
if [ $((SECONDS - start)) -ge "$seconds" ]; then
  echo "FAILED: the job was still running after $seconds s (a hang)" >&2
  exit 1
fi
if [ "$status" -eq 0 ]; then
  echo "FAILED: the job exited with status 0" >&2
  exit 1
fi
if ! grep -Eq -- "$pattern" <<<"$output"; then
  echo "FAILED: no line matches '$pattern'" >&2
  exit 1
fi
echo "ok: status $status, the message found"
