"""One small table for the report: which code, software and devices produced the runs, tables and figures.

Reading every run's ``provenance.json`` through the tables' sidecars (which list each run they aggregate), it
groups the runs by what could make two results differ — prunelab version and git commit (with the dirty
flag), Python/torch/CUDA versions, deterministic kernels, device — and counts them, with the experiments
(or figures) they feed and when they ran. Tables and figures get rows of their own (the code that aggregated and drew
them). A reviewer sees at a glance whether a suite mixes code versions or devices.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import yaml

from prunelab.records import layout, provenance
from prunelab.records.layout import sidecar
from prunelab.records.storage import atomic_path, load_json
from prunelab.records.tree import deterministic

KINDS = ["dense", "prune", "branch", "table", "figure"]
GROUP = ["kind", "prunelab", "git_commit", "dirty", "python", "torch", "cuda", "deterministic", "device"]
COLUMNS = [*GROUP, "count", "used_by", "hosts", "first_started", "last_finished"]


def _describe(record: dict, kind: str, used_by: str) -> dict:
    code, env, hardware = record.get("code", {}), record.get("environment", {}), record.get("hardware", {})
    commit = code.get("git_commit")
    return {
        "kind": kind,
        "prunelab": code.get("version"),
        "git_commit": commit[:12] if commit else "unknown",
        "dirty": code.get("dirty"),
        "python": env.get("python"),
        "torch": env.get("torch"),
        "cuda": env.get("cuda") or "none",
        # runs only: tables and figures compute nothing with torch kernels
        "deterministic": deterministic(record) if kind in layout.RUN_KINDS else "n/a",
        "device": hardware.get("gpu") or f"CPU: {hardware.get('cpu')}",
        "used_by": used_by,
        "host": record.get("host", {}).get("host"),
        "started": record.get("started"),
        "finished": record.get("finished"),
    }


def summarise(tables: list[str | Path], figures: list[str | Path], results: str | Path) -> pd.DataFrame:
    """Provenance of every run of ``tables`` (via their sidecars), of the tables and of ``figures``."""
    results = Path(results)
    records, runs = [], {}  # run provenance path → (kind, experiments using it); shared runs count once
    for table in map(Path, tables):
        record = load_json(sidecar(table), producer="aggregate")
        experiment = record.get("experiment", table.stem)
        records.append(_describe(record, "table", experiment))
        for link in record["parents"].values():
            path = layout.run_dir(results, link["kind"], link["hash"]) / layout.PROVENANCE
            runs.setdefault(path, (link["kind"], set()))[1].add(experiment)
    for path, (kind, experiments) in runs.items():
        records.append(_describe(load_json(path, producer=kind), kind, ", ".join(sorted(experiments))))
    for figure in map(Path, figures):
        record = load_json(sidecar(figure), producer="figure")
        records.append(_describe(record, "figure", record.get("figure", figure.stem)))
    frame = pd.DataFrame.from_records(records).fillna({"dirty": "unknown", "deterministic": "unknown"})
    groups = frame.astype({c: str for c in GROUP}).groupby(GROUP, sort=False)
    out = groups.agg(
        count=("kind", "size"),
        used_by=("used_by", lambda names: ", ".join(sorted({n for ns in names for n in ns.split(", ")}))),
        hosts=("host", "nunique"),
        first_started=("started", "min"),
        last_finished=("finished", "max"),
    )
    out = out.reset_index()
    return out.sort_values("kind", key=lambda k: k.map(KINDS.index), kind="stable")[COLUMNS]


def write(tables: list[str | Path], figures: list[str | Path], results: str | Path, out: str | Path) -> pd.DataFrame:
    """Write the summary CSV at ``out`` and its sidecar (inputs: the table and figure sidecars it read)."""
    started = provenance.now()
    summary = summarise(tables, figures, results)
    with atomic_path(out) as tmp:
        summary.to_csv(tmp, index=False)
    inputs = [sidecar(p) for p in [*tables, *figures]]
    provenance.write(
        sidecar(out), provenance.build({"summary": out}, inputs=inputs, started=started, relative_to=results)
    )
    return summary


def write_config(config: dict, out: str | Path) -> None:
    """The suite config as validated (every default filled in), i.e. exactly what the runs were planned from."""
    with atomic_path(out) as tmp:
        tmp.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")


def write_all(
    config: dict,
    tables: list[str | Path],
    figures: list[str | Path],
    results: str | Path,
    summary_out: str | Path,
    config_out: str | Path,
    log: str | Path,
) -> None:
    """The report's provenance outputs (config copy, summary table + sidecar) and a one-line log."""
    write_config(config, config_out)
    summary = write(tables, figures, results, summary_out)
    Path(log).write_text(f"{summary_out}: {len(summary)} group(s) of runs, tables and figures\n", encoding="utf-8")
