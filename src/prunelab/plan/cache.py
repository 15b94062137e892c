"""The plan of a config, stored once built, so that parsing the Snakefile again does not rebuild it.

Snakemake parses the Snakefile on every invocation (every dry run, every rerun, and once more in each job
that has a ``run:`` block), and building a plan resolves and hashes every spec. The plan is a pure function
of the validated config and of prunelab's code, so it is stored under the hash of both: the config's JSON
and the bytes of every source file of the package. Any edit of either gives another key and a fresh build; a
damaged file is rebuilt. Errors are never stored: a
config the builder refuses is refused again, with the same line, on every parse.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from prunelab.records.run_plan import Plan
from prunelab.records.storage import write_text

PACKAGE = Path(__file__).resolve().parents[1]  # the whole prunelab package, not only plan/
FORMAT = 1


def source_digest() -> str:
    """sha256 over the relative path and bytes of every ``.py`` file of the package, in a fixed order."""
    digest = hashlib.sha256()
    for path in sorted(PACKAGE.rglob("*.py")):
        digest.update(str(path.relative_to(PACKAGE)).encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def plan_key(config: dict) -> str:
    text = json.dumps(config, sort_keys=True, allow_nan=True)
    return hashlib.sha256(f"{FORMAT}\0{source_digest()}\0{text}".encode()).hexdigest()


def cached_plan(config: dict, directory: str | Path, source: str = "config") -> Plan:
    """The plan of ``config`` from ``directory`` when stored under the current key, else built and stored.

    One file per suite (``plan-<suite>.json``), overwritten when the key changes, so the store does not grow
    with every config edit. ``source`` (the config file) is what a refusal names first.
    """
    key = plan_key(config)
    path = Path(directory) / f"plan-{config.get('suite', 'suite')}.json"
    try:
        stored = json.loads(path.read_text(encoding="utf-8"))
        if stored.get("key") == key:
            return Plan(
                config=config, specs=stored["specs"], experiments=stored["experiments"], figures=stored["figures"]
            )
    except (OSError, ValueError, KeyError, AttributeError):
        pass  # absent or unreadable: build it
    from prunelab.plan.build import build_plan

    plan = build_plan(config, source)
    path.parent.mkdir(parents=True, exist_ok=True)
    # insertion order kept (no sort_keys): the rules list runs, tables and figures in the plan's order
    write_text(
        path,
        json.dumps(
            {"key": key, "specs": plan.specs, "experiments": plan.experiments, "figures": plan.figures}, allow_nan=True
        ),
    )
    return plan
