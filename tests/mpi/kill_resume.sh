#!/usr/bin/env bash
# A run killed part-way (SIGKILL, rank R at step S) and resumed from its last checkpoint ends
# with the same final parameters, bit for bit, as a run never stopped:
#   tests/mpi/kill_resume.sh NP RANK STEP program
set -euo pipefail
np=$1 rank=$2 step=$3 program=$4
mpirun=$(cd "$(dirname "$0")/../../scripts" && pwd)/mpirun
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
run() { timeout --kill-after=5 60 "$mpirun" "$np" "$program" "$@"; }

run --model "$work/whole.bin"
if run --model "$work/resumed.bin" --checkpoint "$work/ckpt.bin" --every 7 \
       --fail kill --rank "$rank" --step "$step" >"$work/killed.log" 2>&1; then
  cat "$work/killed.log"
  echo "FAILED: the run that was to be killed finished" >&2
  exit 1
fi
[ -f "$work/ckpt.bin" ] || { echo "FAILED: no checkpoint was written before the kill" >&2; exit 1; }
[ ! -e "$work/resumed.bin" ] || { echo "FAILED: the killed run saved a model" >&2; exit 1; }
run --model "$work/resumed.bin" --checkpoint "$work/ckpt.bin" --every 7 --resume
cmp "$work/whole.bin" "$work/resumed.bin"
echo "ok: killed at step $step on rank $rank, resumed: the same final parameters"
