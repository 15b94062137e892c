"""Aggregate the runs of one experiment into a tidy CSV (one row per run, long format).

The manifest (written by the workflow from the plan) lists each row's labels — experiment, dense config,
seed, pruning setting, branch, level, stage — and the run that fills it. Metrics come from the run's
``metrics.json``; the table gets a provenance sidecar listing every run it read, with the sha256 of each
run's provenance, so ``prunelab lineage`` can walk from a figure to the training runs.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from prunelab import provenance
from prunelab.storage import atomic_path, load_json

COLUMNS = ["experiment", "dense", "model", "dataset", "seed", "stage", "pruning", "method", "branch",
           "branch_type", "level", "target_sparsity", "sparsity", "test_acc", "best_test_acc", "test_loss",
           "val_acc", "train_loss", "macs", "ops", "params", "epochs", "jsv_mean", "jsv_std", "status", "kind", "run"]


def _metrics_row(row: dict, metrics: dict) -> dict:
    stage = row["stage"]
    if stage == "pruned":
        at = metrics["pruned"]
        values = {"test_acc": at["test_acc"], "best_test_acc": at["test_acc"], "test_loss": at["test_loss"],
                  "val_acc": at["val_acc"], "train_loss": at["train_loss"], "epochs": 0.0}
    else:
        final, best = metrics["final"], metrics["best"]
        values = {"test_acc": final["test_acc"], "best_test_acc": best["test_acc"], "test_loss": final["test_loss"],
                  "val_acc": final["val_acc"], "train_loss": final["train_loss"], "epochs": metrics["epochs"]}
    jsv = metrics.get("jsv") or {}
    values.update({"jsv_mean": jsv.get("jsv_mean"), "jsv_std": jsv.get("jsv_std")})
    flops = metrics.get("flops", {})
    values.update({"sparsity": metrics.get("sparsity", {}).get("sparsity", 0.0), "macs": flops.get("macs"),
                   "ops": flops.get("ops"), "params": flops.get("params"), "status": metrics.get("status", "ok")})
    return values


def aggregate(manifest: list[dict], results: str | Path) -> pd.DataFrame:
    """The tidy table of ``manifest``'s rows, reading ``results/runs/{kind}/{run}/metrics.json``."""
    results = Path(results)
    records = []
    for row in manifest:
        metrics = load_json(results / "runs" / row["kind"] / row["run"] / "metrics.json", producer=row["kind"])
        records.append({**{k: row.get(k) for k in COLUMNS}, **_metrics_row(row, metrics)})
    return pd.DataFrame.from_records(records, columns=COLUMNS)


def write_table(manifest_path: str | Path, results: str | Path, out: str | Path) -> pd.DataFrame:
    """Aggregate the manifest at ``manifest_path`` into ``out`` (CSV) plus ``out``'s provenance sidecar."""
    started = provenance.now()
    results, out = Path(results), Path(out)
    manifest = load_json(manifest_path, producer="manifest")
    table = aggregate(manifest["rows"], results)
    with atomic_path(out) as tmp:
        table.to_csv(tmp, index=False, float_format="%.6g")
    runs = {f"{r['kind']}/{r['run']}": results / "runs" / r["kind"] / r["run"] for r in manifest["rows"]}
    record = provenance.build({"table": out}, parents=runs, inputs=[manifest_path], started=started,
                              relative_to=results, extra={"experiment": manifest["experiment"]})
    provenance.write(sidecar(out), record)
    return table


def sidecar(path: str | Path) -> Path:
    """``x.csv`` → ``x.provenance.json`` (one sidecar per table or figure)."""
    path = Path(path)
    return path.with_name(path.stem + ".provenance.json")
