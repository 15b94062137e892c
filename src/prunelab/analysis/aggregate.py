"""Aggregate the runs of one experiment into a tidy CSV (one row per run, long format).

The manifest (written by the workflow from the plan) lists each row's labels — experiment, dense config,
seed, pruning setting, branch, level, stage — and the run that fills it. Metrics come from the run's
``metrics.json``; the table gets a provenance sidecar listing every run it read, with the sha256 of each
run's provenance, so ``prunelab lineage`` can walk from a figure to the training runs.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from prunelab.records import layout, provenance
from prunelab.records.layout import sidecar
from prunelab.records.storage import atomic_path, load_json

# labels from the manifest, then measurements; ``pruned_*`` repeat, on branch rows, the state right after pruning
# (Laurent et al. compare the loss right after pruning with the accuracy after retraining)
LABELS = [
    "experiment",
    "dense",
    "model",
    "activation",
    "dataset",
    "seed",
    "dense_lr",
    "stage",
    "pruning",
    "method",
    "at",
    "hparams",
    "scope",
    "steps",
    "branch",
    "branch_type",
    "branch_lr",
    "isometry",
    "level",
    "target_sparsity",
]
MEASURES = [
    "sparsity",
    "test_acc",
    "best_test_acc",
    "test_loss",
    "val_acc",
    "val_loss",
    "train_loss",
    "pruned_test_acc",
    "pruned_test_loss",
    "pruned_train_loss",
    "macs",
    "ops",
    "params",
    "epochs",
    "val_acc_last_tenth",
    "jsv_mean",
    "jsv_std",
    "status",
]
COLUMNS = LABELS + MEASURES + ["kind", "run", "prune_run", "dense_run"]
LAST_TENTH = 0.1  # the share of a schedule's final epochs over which a training run must have flattened


def last_tenth_change(history: list[dict]) -> float:
    """Validation accuracy at the last epoch minus at the last epoch within the first 90 % of the schedule.

    The record shortens a paper's schedule only where the dense validation accuracy has flattened (issue #25: the
    last 10 % of epochs change it by < 0.2 points); this is that change, signed so a reader sees a run that was
    still climbing. NaN without a validation split or without an epoch before the last tenth."""
    evaluated = [h for h in history if h.get("val_acc") is not None]
    if not evaluated:
        return float("nan")
    end = evaluated[-1]
    before = [h for h in evaluated if h["epoch"] <= (1 - LAST_TENTH) * end["epoch"]]
    return float(end["val_acc"] - before[-1]["val_acc"]) if before else float("nan")


def _metrics_row(row: dict, metrics: dict, pruned: dict | None) -> dict:
    stage = row["stage"]
    if stage == "pruned":
        at = metrics["pruned"]
        values = {
            "test_acc": at["test_acc"],
            "best_test_acc": at["test_acc"],
            "test_loss": at["test_loss"],
            "val_acc": at["val_acc"],
            "val_loss": at["val_loss"],
            "train_loss": at["train_loss"],
            "epochs": 0.0,
        }
    else:
        final, best = metrics["final"], metrics["best"]
        # no best epoch without a validation split (it is never chosen on test): best_test_acc is then NaN
        values = {
            "test_acc": final["test_acc"],
            "best_test_acc": best.get("test_acc", float("nan")),
            "test_loss": final["test_loss"],
            "val_acc": final["val_acc"],
            "val_loss": final["val_loss"],
            "train_loss": final["train_loss"],
            "epochs": metrics["epochs"],
            "val_acc_last_tenth": last_tenth_change(metrics.get("history", [])),
        }
    if pruned is not None:
        values.update({f"pruned_{k}": pruned["pruned"][k] for k in ("test_acc", "test_loss", "train_loss")})
    jsv = metrics.get("jsv") or {}
    values.update({"jsv_mean": jsv.get("jsv_mean"), "jsv_std": jsv.get("jsv_std")})
    flops = metrics.get("flops", {})
    values.update(
        {
            "sparsity": metrics.get("sparsity", {}).get("sparsity", 0.0),
            "macs": flops.get("macs"),
            "ops": flops.get("ops"),
            "params": flops.get("params"),
            "status": metrics.get("status", "ok"),
        }
    )
    return values


def aggregate(manifest: list[dict], results: str | Path) -> pd.DataFrame:
    """The tidy table of ``manifest``'s rows, reading each run's ``metrics.json``."""
    results = Path(results)
    cache: dict[tuple[str, str], dict] = {}

    def metrics_of(kind: str, run: str) -> dict:
        if (kind, run) not in cache:
            cache[kind, run] = load_json(layout.run_dir(results, kind, run) / layout.METRICS, producer=kind)
        return cache[kind, run]

    records = []
    for row in manifest:
        metrics = metrics_of(row["kind"], row["run"])
        pruned = metrics_of("prune", row["prune_run"]) if row["stage"] != "dense" else None
        records.append({**{k: row.get(k) for k in COLUMNS}, **_metrics_row(row, metrics, pruned)})
    return pd.DataFrame.from_records(records, columns=COLUMNS)


def write_table(manifest_path: str | Path, results: str | Path, out: str | Path) -> pd.DataFrame:
    """Aggregate the manifest at ``manifest_path`` into ``out`` (CSV) plus ``out``'s provenance sidecar."""
    started = provenance.now()
    results, out = Path(results), Path(out)
    manifest = load_json(manifest_path, producer="manifest")
    table = aggregate(manifest["rows"], results)
    with atomic_path(out) as tmp:
        table.to_csv(tmp, index=False, float_format="%.6g")
    runs = {layout.link(r["kind"], r["run"]): layout.run_dir(results, r["kind"], r["run"]) for r in manifest["rows"]}
    record = provenance.build(
        {"table": out},
        parents=runs,
        inputs=[manifest_path],
        started=started,
        relative_to=results,
        extra={"experiment": manifest["experiment"]},
    )
    provenance.write(sidecar(out), record)
    return table
