#!/usr/bin/env bash
# .ci/lint.sh - workflow conventions: `snakefmt --check` on the Snakefile and workflow/, and `snakemake --lint`
# on the demo config and on every suite config in workflow/experiments/.
# The full suites check at parse time that their real datasets exist; a lint must not need them, so each
# config is linted through a temporary copy with `runtime: {check_data: false}` merged in (`--config` cannot
# set nested keys). Runs inside the CI venv; exit 1 on the first problem, naming the config.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
WORK=$(mktemp -d /tmp/prunelab-lint.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
fail() { echo "[lint] FAIL: $*" >&2; exit 1; }

snakefmt --check Snakefile workflow/ >"$WORK/snakefmt.log" 2>&1 || { cat "$WORK/snakefmt.log"; fail "snakefmt --check"; }
echo "[lint] snakefmt --check: Snakefile and workflow/ clean"

for config in config.yaml workflow/experiments/*.yaml; do
  copy=$WORK/$(basename "$config")
  python - "$config" "$copy" <<'PY'
"""Copy a config with the parse-time dataset check switched off (lint needs no data)."""
import sys

import yaml

with open(sys.argv[1]) as source:
    config = yaml.safe_load(source)
config.setdefault("runtime", {})["check_data"] = False
with open(sys.argv[2], "w") as target:
    yaml.safe_dump(config, target, sort_keys=False)
PY
  timeout 300 snakemake --snakefile "$ROOT/Snakefile" --lint --configfile "$copy" >"$WORK/lint.log" 2>&1 \
    || { tail -n 30 "$WORK/lint.log"; fail "snakemake --lint --configfile $config"; }
  grep -q "your workflow is in a good condition" "$WORK/lint.log" || { cat "$WORK/lint.log"; fail "snakemake --lint $config: findings"; }
  echo "[lint] snakemake --lint: $config clean"
done
