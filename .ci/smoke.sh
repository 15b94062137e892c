#!/usr/bin/env bash
# .ci/smoke.sh - every paper suite's smoke config end to end, as a user runs it, in a scratch directory:
#   1. snakemake --configfile workflow/experiments/<paper>-smoke.yaml (runs, tables, figures, audit);
#   2. every planned figure exists, non-empty, as PNG, PDF and CSV with its provenance sidecar, and so does the
#      replication table (CSV, Markdown, sidecar);
#   3. a second invocation schedules nothing;
#   4. the HTML report builds and names every figure;
#   5. prunelab audit: the tree is clean (exit 0), and a flipped byte in one mask is caught (exit != 0).
# Runs inside the CI venv. Every step is bounded by `timeout`. Prints wall time per suite.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
WORK=$(mktemp -d /tmp/prunelab-smoke.XXXXXX)
t0=$(date +%s)
fail() { echo "[smoke] FAIL: $*" >&2; exit 1; }
smk() { timeout -s INT 1200 snakemake --snakefile "$ROOT/Snakefile" --directory "$WORK" --cores "${CORES:-2}" "$@"; }

for paper in ${SMOKE_SUITES:-dyniso lossmodel sipp rethinking}; do
  start=$(date +%s)
  config="$ROOT/workflow/experiments/$paper-smoke.yaml"
  suite="$paper-smoke"
  smk --configfile "$config" -q >"$WORK/$paper.log" 2>&1 || { tail -n 60 "$WORK/$paper.log"; fail "$paper-smoke"; }
  figures=$(python - "$config" <<'PY'
import sys
from prunelab.config.validation import load_config
print(" ".join(load_config(sys.argv[1])["figures"]))
PY
)
  for figure in $figures; do
    for ext in png pdf csv provenance.json; do
      [[ -s $WORK/results/figures/$suite/$figure.$ext ]] || fail "$suite: figure $figure.$ext missing or empty"
    done
  done
  for ext in csv md provenance.json; do
    [[ -s $WORK/results/replication/$suite.$ext ]] || fail "$suite: replication/$suite.$ext missing or empty"
  done
  smk --configfile "$config" -n >"$WORK/$paper.rerun.log" 2>&1 || fail "$suite: dry run of the second invocation"
  grep -q "Nothing to be done" "$WORK/$paper.rerun.log" || { cat "$WORK/$paper.rerun.log"; fail "$suite: second invocation schedules jobs"; }
  smk --configfile "$config" --report "$WORK/results/$suite-report.html" >"$WORK/$paper.report.log" 2>&1 \
    || { tail -n 30 "$WORK/$paper.report.log"; fail "$suite: report"; }
  for figure in $figures; do
    grep -q "$figure" "$WORK/results/$suite-report.html" || fail "$suite: report lacks $figure"
  done
  echo "[smoke] $suite: $(echo "$figures" | wc -w) figures, report, 0 jobs on rerun in $(( $(date +%s) - start ))s"
done

# audit the whole tree (all suites side by side) clean, then once more after flipping one byte of a mask
timeout 600 python -m prunelab audit "$WORK/results" >"$WORK/audit.txt" 2>&1 || { cat "$WORK/audit.txt"; fail "audit of the clean tree"; }
mask=$(find "$WORK/results/runs/prune" -name mask.pt -print -quit)
python - "$mask" <<'PY'
import sys
path = sys.argv[1]
data = bytearray(open(path, "rb").read())
data[len(data) // 2] ^= 0xFF
open(path, "wb").write(bytes(data))
PY
if timeout 600 python -m prunelab audit "$WORK/results" >"$WORK/audit-tampered.txt" 2>&1; then
  fail "audit missed a flipped byte in $mask"
fi
grep -q "$mask" "$WORK/audit-tampered.txt" || { cat "$WORK/audit-tampered.txt"; fail "audit did not name $mask"; }
echo "[smoke] audit: clean tree exit 0, tampered mask named ($(grep -c . "$WORK/audit-tampered.txt") line(s))"
echo "[smoke] PASS in $(( $(date +%s) - t0 ))s (workdir $WORK)"
