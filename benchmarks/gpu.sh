#!/usr/bin/env bash
# The GPU check, in one go on one GPU (at most 8 minutes): the tests marked `gpu` (the device, GPU-resident data,
# grouped vs one-by-one training within tolerance, bf16, channels_last, CUDA graphs, a CUDA job through the CLI),
# then every benchmark that has a GPU ratio; each prints its ratios beside their targets. Each step has its own
# time limit, so that one slow step is reported as such and the rest still run. Without CUDA it prints one
# "no GPU" line and exits 0 (CI calls it, so that the skip shows there).
#
#   benchmarks/gpu.sh            # from any directory; uses the `python` on PATH
set -uo pipefail
cd "$(dirname "$0")/.."
export PYTHONWARNINGS=ignore

python -c 'import sys, torch; sys.exit(0 if torch.cuda.is_available() else 3)'
case $? in
  0) ;;
  3) echo "gpu: no GPU (torch.cuda.is_available() is false): GPU tests and benchmarks skipped"; exit 0 ;;
  *) echo "gpu: cannot import torch"; exit 1 ;;
esac
python -c 'import torch; print(f"gpu: {torch.cuda.get_device_name(0)}, torch {torch.__version__}, CUDA {torch.version.cuda}")'

failed=()
step() {  # step NAME SECONDS COMMAND...: run with a limit, report how it ended and how long it took
  local name=$1 limit=$2 start=$SECONDS
  shift 2
  echo "--- $name (limit ${limit}s)"
  timeout "$limit" "$@"
  local status=$?
  if [[ $status -eq 124 ]]; then failed+=("$name (over ${limit}s)"); elif [[ $status -ne 0 ]]; then failed+=("$name (exit $status)"); fi
  echo "--- $name: exit $status after $((SECONDS - start))s"
}

# limits sum to 480 s; the targets are printed by the benchmarks themselves, on their lines
step "pytest -m gpu" 150 python -m pytest -n 0 -q -m gpu -p no:cacheprovider tests
step train_loop 80 python benchmarks/train_loop.py     # trainer/hand <=1.2, dataloader/trainer >=3
step masked_step 50 python benchmarks/masked_step.py   # masked/dense <=1.02, hooks/masked 1.33 on an H100
step grouped 70 python benchmarks/grouped.py           # sequential/grouped >=3
step precision 50 python benchmarks/precision.py       # bf16 / channels_last speed-ups (reported, no target)
step scoring 80 python benchmarks/scoring.py --train-examples 60000  # methods <=1 epoch, WoodFisher <=3

if [[ ${#failed[@]} -gt 0 ]]; then
  echo "gpu: FAILED: ${failed[*]}"
  exit 1
fi
echo "gpu: every GPU test passed and every GPU benchmark ran (ratios against targets above)"
