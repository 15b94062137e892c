#!/usr/bin/env bash
# benchmarks/slurm_packing.sh [DEVICE] [RUNS] - run jobs per hour on a running SLURM cluster, with and without
# packing: RUNS independent tiny dense trainings (digits, LeNet-300-100, 1 epoch) through the slurm profile,
# once with --group-components pack=1 (one allocation per run) and once with pack=RUNS (one allocation).
# DEVICE is the suite's runtime.device: cpu (no GPU requested) or auto (each run asks for the GPU).
# Needs the cluster up (scripts/local-slurm.sh start, as root) and the venv with the slurm plugin on PATH.
# Prints one summary line.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
DEVICE=${1:-cpu}
RUNS=${2:-8}
export PYTHONPATH="$ROOT/src${PYTHONPATH:+:$PYTHONPATH}"
timeout 10 scontrol ping 2>/dev/null | grep -q 'is UP' || { echo "no SLURM controller answering" >&2; exit 1; }
WORK=$(mktemp -d /tmp/prunelab-packing.XXXXXX)
seeds=$(seq -s, 0 $((RUNS - 1)))

run() {  # run K: wall milliseconds and SLURM allocations for the RUNS trainings packed K per allocation
  local k=$1 dir=$WORK/k$1 start
  mkdir -p "$dir"
  cat >"$dir/config.yaml" <<EOF
suite: packing
runtime: {device: $DEVICE}
dense:
  lenet:
    dataset: {name: digits, size: 8, channels: 1, validation: 100}
    model: {name: lenet_300_100}
    train: {epochs: 1, batch_size: 128, lr: 0.05, save_at: []}
    seeds: [$seeds]
experiments:
  runs: {dense: [lenet]}
EOF
  start=$(date +%s%N)
  timeout -s INT 1800 snakemake --snakefile "$ROOT/Snakefile" --workflow-profile "$ROOT/workflow/profiles/slurm" \
    --default-resources slurm_account=local slurm_partition=debug --jobs 8 --latency-wait 5 --max-threads 2 \
    --slurm-init-seconds-before-status-checks 2 --group-components "pack=$k" --directory "$dir" \
    --configfile "$dir/config.yaml" >"$dir/snakemake.log" 2>&1 || { tail -n 30 "$dir/snakemake.log"; exit 1; }
  echo "$((($(date +%s%N) - start) / 1000000)) $(grep -c 'submitted with SLURM jobid' "$dir/snakemake.log")"
}

read -r alone alone_jobs <<<"$(run 1)"
read -r packed packed_jobs <<<"$(run "$RUNS")"
awk -v n="$RUNS" -v d="$DEVICE" -v a="$alone" -v aj="$alone_jobs" -v p="$packed" -v pj="$packed_jobs" 'BEGIN {
  a /= 1000; p /= 1000
  printf "slurm packing, %d runs, device %s: %d allocations %.0f s (%.0f runs/h), %d allocation(s) %.0f s (%.0f runs/h): %.2fx\n",
    n, d, aj, a, 3600 * n / a, pj, p, 3600 * n / p, a / p }'
