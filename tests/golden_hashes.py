"""Regenerate with ``python tests/golden_hashes.py``: writes tests/golden/hashes.json: every planned run hash (with its kind) of each shipped config."""

from __future__ import annotations

import json
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
GOLDEN = Path(__file__).with_name("golden") / "hashes.json"
CONFIGS = {"demo": ROOT / "config.yaml",
           **{path.stem: path for path in sorted((ROOT / "workflow" / "experiments").glob("*.yaml"))}}


def planned_hashes(path: Path) -> dict[str, str]:
    """``{hash: kind}`` of every run ``path`` plans (no data needed: planning reads dataset sizes only)."""
    from prunelab.config.validation import load_config
    from prunelab.plan.build import build_plan

    plan = build_plan(load_config(path))
    return {run_hash: spec["kind"] for run_hash, spec in sorted(plan.specs.items())}


def main() -> None:
    golden = {name: planned_hashes(path) for name, path in CONFIGS.items()}
    GOLDEN.write_text(json.dumps(golden, indent=0, sort_keys=True) + "\n", encoding="utf-8")
    print(f"{GOLDEN}: " + ", ".join(f"{name} {len(runs)}" for name, runs in golden.items()))


if __name__ == "__main__":
    main()
