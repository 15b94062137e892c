#!/usr/bin/env bash
# .ci/lint.sh - code and workflow conventions: `ruff check` and `ruff format --check` (rules in pyproject.toml),
# `lint-imports` (the stage layers and the torch-free contracts of pyproject.toml [tool.importlinter]),
# `snakefmt --check` on the Snakefile and workflow/, and `snakemake --lint` on the demo config and on every suite
# config in workflow/experiments/.
# The data preflight runs at workflow start, which lint skips, so the suites lint without their data.
# Runs inside the CI venv; exit 1 on the first problem, naming the config.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
WORK=$(mktemp -d /tmp/prunelab-lint.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
fail() { echo "[lint] FAIL: $*" >&2; exit 1; }

ruff check --quiet . || fail "ruff check (ruff check --fix . fixes the safe ones)"
ruff format --check --quiet . || fail "ruff format --check (ruff format . reformats)"
echo "[lint] ruff check and ruff format --check: clean"

lint-imports --no-cache >"$WORK/imports.log" 2>&1 || { cat "$WORK/imports.log"; fail "lint-imports"; }
echo "[lint] lint-imports: $(grep -c ' KEPT' "$WORK/imports.log") contracts kept (stage layers, torch-free modules)"

snakefmt --check Snakefile workflow/ >"$WORK/snakefmt.log" 2>&1 || { cat "$WORK/snakefmt.log"; fail "snakefmt --check"; }
echo "[lint] snakefmt --check: Snakefile and workflow/ clean"

for config in config.yaml workflow/experiments/*.yaml; do
  timeout 300 snakemake --snakefile "$ROOT/Snakefile" --lint --configfile "$config" >"$WORK/lint.log" 2>&1 \
    || { tail -n 30 "$WORK/lint.log"; fail "snakemake --lint --configfile $config"; }
  grep -q "your workflow is in a good condition" "$WORK/lint.log" || { cat "$WORK/lint.log"; fail "snakemake --lint $config: findings"; }
  echo "[lint] snakemake --lint: $config clean"
done
