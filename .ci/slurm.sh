#!/usr/bin/env bash
# .ci/slurm.sh - the workflow on a real SLURM cluster: the local single-node one of scripts/local-slurm.sh
# (munge + slurmctld + slurmd), driven through `snakemake --workflow-profile workflow/profiles/slurm` with the
# local account/partition.
#   1. tests/configs/slurm.yaml: every output and provenance (with its SLURM job id); the small runs
#      must have been packed into one allocation holding the node's (fake) GPU.
#   2. the same again: nothing to do, nothing submitted.
#   3. tests/configs/slurm-resume.yaml: scancel the training job after its first checkpoint; Snakemake's
#      retry must resume it ("resumed from ... at iteration N") in a new SLURM job and finish.
#   4. bad input: the profile's account/partition placeholders, and a rule asking for 4 GPUs on a 1-GPU
#      node, must each fail fast with SLURM's refusal in one line naming the rule (plus the live
#      sbatch --test-only test of tests/test_slurm.py).
# Runs inside the CI venv (installs snakemake-executor-plugin-slurm via the [slurm] extra if missing).
# Needs root (the cluster's daemons). Outside CI it skips (exit 0) without root; in CI (CI=true) that fails.
# The cluster is stopped at the end whatever happened. Every wait is bounded.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
CLUSTER=$ROOT/scripts/local-slurm.sh
t0=$(date +%s)
log() { echo "[slurm +$(($(date +%s) - t0))s] $*"; }
fail() { echo "[slurm] FAIL: $*" >&2; exit 1; }

if [[ $(id -u) -ne 0 ]]; then
  [[ ${CI:-} != true ]] || fail "CI=true but not root: scripts/local-slurm.sh needs root to start the cluster"
  echo "[slurm] SKIP: starting the local SLURM cluster (scripts/local-slurm.sh) needs root"
  exit 0
fi

python -c "import snakemake_executor_plugin_slurm" 2>/dev/null \
  || timeout 600 python -m pip install -q -e ".[slurm]" || fail "could not install snakemake-executor-plugin-slurm"
export PYTHONPATH="$ROOT/src${PYTHONPATH:+:$PYTHONPATH}"  # parse and run this checkout's code

WORK=$(mktemp -d /tmp/prunelab-slurm.XXXXXX)
BACKGROUND=""
cleanup() {
  local status=$?
  if [[ -n $BACKGROUND ]] && kill -0 "$BACKGROUND" 2>/dev/null; then
    kill -INT "$BACKGROUND" 2>/dev/null || true  # snakemake cancels its SLURM jobs on SIGINT
    timeout 60 tail --pid="$BACKGROUND" -f /dev/null || kill -KILL "$BACKGROUND" 2>/dev/null || true
  fi
  timeout 120 "$CLUSTER" stop >"$WORK/stop.log" 2>&1 \
    || { tail -n 5 "$WORK/stop.log"; echo "[slurm] FAIL: the cluster did not stop cleanly" >&2; status=1; }
  echo "[slurm] $([[ $status -eq 0 ]] && echo PASS || echo "FAILED (logs in $WORK)") in $(($(date +%s) - t0))s;" \
    "SLURM job ids: $(cat "$WORK"/*/snakemake.log 2>/dev/null \
       | sed -n 's/.*submitted with SLURM jobid \([0-9]*\).*/\1/p' | sort -n | tr '\n' ' ')"
  [[ $status -ne 0 ]] || rm -rf "$WORK"
  exit "$status"
}
trap cleanup EXIT
trap "exit 130" INT TERM  # a CI timeout still stops the cluster (via the EXIT trap)

log "starting the local cluster (scripts/local-slurm.sh start)"
timeout 900 "$CLUSTER" start >"$WORK/start.log" 2>&1 \
  || { tail -n 20 "$WORK/start.log"; fail "the local SLURM cluster did not start"; }
log "$(grep -o 'SLURM is up.*' "$WORK/start.log" | sed -n 1p) $(sinfo -h -o '%P %c CPUs %m MB %G' | sed -n 1p)"
# the pre-flight's live test against this cluster (CI=true makes it fail rather than skip without one)
timeout 300 python -m pytest -q -n 0 -p no:cacheprovider tests/test_slurm.py -k live >"$WORK/pytest.log" 2>&1 \
  && grep -q "1 passed" "$WORK/pytest.log" || { tail -n 20 "$WORK/pytest.log"; fail "live sbatch --test-only test"; }
log "live pre-flight test: $(tail -n 1 "$WORK/pytest.log")"

# the workflow through the slurm profile; the local cluster has partition 'debug', takes any account,
# has 2 CPUs, and answers fast, so the first status check comes after 2 s
PROFILE_RUN=(snakemake --snakefile "$ROOT/Snakefile" --workflow-profile "$ROOT/workflow/profiles/slurm"
  --jobs 4 --latency-wait 5 --max-threads 2 --slurm-init-seconds-before-status-checks 2)
LOCAL_CLUSTER=(--default-resources slurm_account=local slurm_partition=debug)

submitted() { sed -n 's/.*submitted with SLURM jobid \([0-9]*\).*/\1/p' "$1"; }

# -- 1. a small suite -------------------------------------------------------------------------------------
SUITE=$WORK/suite
mkdir -p "$SUITE" && cp tests/configs/slurm.yaml "$SUITE/config.yaml"
start=$(date +%s)
timeout -s INT 600 "${PROFILE_RUN[@]}" "${LOCAL_CLUSTER[@]}" --directory "$SUITE" \
  --configfile "$SUITE/config.yaml" >"$SUITE/snakemake.log" 2>&1 \
  || { tail -n 40 "$SUITE/snakemake.log"; fail "suite run failed (log: $SUITE/snakemake.log)"; }
seconds=$(($(date +%s) - start))
packed=$(python - "$SUITE" <<'EOF'
"""Every run's outputs and provenance; the SLURM job id(s) the runs recorded, printed for the shell."""
import json
import sys
from pathlib import Path

from prunelab.config.validation import load_config
from prunelab.plan.build import build_plan
from prunelab.records.hashing import spec_hash

work = Path(sys.argv[1])
plan = build_plan(load_config(work / "config.yaml"))
jobs = set()
for run_hash in plan.specs:
    for output in plan.outputs(run_hash):
        assert (work / output).stat().st_size > 0, f"empty or missing: {output}"
    directory = work / plan.directory(run_hash)
    record = json.loads((directory / "provenance.json").read_text())
    spec = json.loads((directory / "spec.json").read_text())
    assert record["hash"] == run_hash == spec_hash(spec), f"{directory}: hash mismatch"
    job = record["host"]["slurm_job_id"]
    assert job and job.isdigit(), f"{directory}: provenance has no SLURM job id ({job!r})"
    jobs.add(job)
suite = plan.config["suite"]
for name in plan.experiments:
    for path in (f"tables/{suite}/{name}.csv", f"tables/{suite}/{name}.provenance.json"):
        assert (work / plan.results / path).stat().st_size > 0, path
for name in plan.figures:
    for ext in ("png", "pdf", "provenance.json"):
        assert (work / plan.results / f"figures/{suite}/{name}.{ext}").stat().st_size > 0, name
print(len(plan.specs), " ".join(sorted(jobs)))
EOF
) || fail "outputs or provenance incomplete (work dir $SUITE)"
read -r runs packed_jobs <<<"$packed"
[[ $packed_jobs =~ ^[0-9]+$ ]] || fail "the $runs small runs were not packed into one allocation (jobs: $packed_jobs)"
gres=$(timeout 15 scontrol show job -d "$packed_jobs" 2>/dev/null | grep -o 'JOB_GRES=[^ ]*' | sed -n 1p || true)
[[ $gres == "JOB_GRES=gpu:1" ]] || fail "the packed allocation $packed_jobs did not hold the GPU (got '$gres')"
log "suite: $runs runs + table + figure in ${seconds}s, all $runs in SLURM job $packed_jobs ($gres):" \
  "$((runs * 3600 / seconds)) run jobs/hour; submitted: $(submitted "$SUITE/snakemake.log" | tr '\n' ' ')"

# -- 2. nothing left to do --------------------------------------------------------------------------------
timeout -s INT 300 "${PROFILE_RUN[@]}" "${LOCAL_CLUSTER[@]}" --directory "$SUITE" \
  --configfile "$SUITE/config.yaml" >"$SUITE/again.log" 2>&1 || fail "second run failed ($SUITE/again.log)"
grep -q "Nothing to be done" "$SUITE/again.log" && [[ -z $(submitted "$SUITE/again.log") ]] \
  || fail "the second run scheduled jobs ($SUITE/again.log)"
log "second run: nothing to be done, 0 jobs submitted"

# -- 3. preemption: cancel a training job after its first checkpoint; the retry must resume it -----------
RESUME=$WORK/resume
mkdir -p "$RESUME" && cp tests/configs/slurm-resume.yaml "$RESUME/config.yaml"
dense=$(python -m prunelab plan "$RESUME/config.yaml" --kind dense | awk 'NR > 1 {print $2}')  # row 1 is the header
run_dir=$RESUME/results/runs/dense/$dense
timeout -s INT 600 "${PROFILE_RUN[@]}" "${LOCAL_CLUSTER[@]}" --directory "$RESUME" \
  --configfile "$RESUME/config.yaml" >"$RESUME/snakemake.log" 2>&1 &
BACKGROUND=$!
timeout 300 bash -c "until [[ -e '$run_dir/train_state.pt' ]] || ! kill -0 $BACKGROUND 2>/dev/null; do sleep 0.1; done" \
  || fail "no checkpoint within 300 s ($RESUME/snakemake.log)"
[[ -e $run_dir/train_state.pt ]] || { tail -n 30 "$RESUME/snakemake.log"; fail "training ended before a checkpoint"; }
first=$(submitted "$RESUME/snakemake.log" | sed -n 1p)
timeout 30 scancel "$first" || fail "scancel $first failed"
log "resume: cancelled SLURM job $first after its first checkpoint ($(grep -c ' it ' "$run_dir/logs/train.log" || true) epochs logged)"
status=0
wait "$BACKGROUND" || status=$?
BACKGROUND=""
[[ $status -eq 0 ]] || { tail -n 40 "$RESUME/snakemake.log"; fail "the retried run failed (status $status)"; }
resumed=$(sed -n 's/.*resumed from .*train_state\.pt at iteration \([0-9]*\).*/\1/p' "$run_dir/logs/train.log")
[[ $resumed =~ ^[1-9][0-9]*$ ]] || fail "the retried job did not resume ($run_dir/logs/train.log)"
grep -q ' it 1500/1500 ' "$run_dir/logs/train.log" || fail "the resumed job did not finish training"
second=$(python -c "import json,sys; print(json.load(open(sys.argv[1]))['host']['slurm_job_id'])" "$run_dir/provenance.json")
[[ $second =~ ^[0-9]+$ && $second != "$first" ]] || fail "provenance names SLURM job '$second', not the retry"
[[ ! -e $run_dir/train_state.pt ]] || fail "train_state.pt was left behind after success"
log "resume: SLURM job $second resumed from train_state.pt at iteration $resumed and finished;" \
  "provenance records job $second"

# -- 4. bad input fails fast, one line naming the rule ---------------------------------------------------
refused() {  # refused NAME EXPECTED-TEXT SNAKEMAKE-ARGS...: the run must stop with a 'SLURM refuses' line
  local name=$1 expected=$2 dir=$WORK/$1 line
  shift 2
  mkdir -p "$dir" && cp tests/configs/slurm.yaml "$dir/config.yaml"
  if timeout -s INT 120 "${PROFILE_RUN[@]}" --directory "$dir" --configfile "$dir/config.yaml" "$@" \
    >"$dir/snakemake.log" 2>&1; then
    fail "$name: the run succeeded although SLURM must refuse it"
  fi
  line=$(grep -m 1 "^SLURM refuses rule '" "$dir/snakemake.log" || true)
  [[ $line == *"$expected"* ]] || { tail -n 20 "$dir/snakemake.log"; fail "$name: no one-line refusal"; }
  [[ -z $(submitted "$dir/snakemake.log") ]] || fail "$name: jobs were submitted anyway"
  log "$name: $line"
}
refused placeholders "Invalid partition name"
refused too-many-gpus "Requested node configuration is not available" "${LOCAL_CLUSTER[@]}" \
  --set-resources train:gpu=4
