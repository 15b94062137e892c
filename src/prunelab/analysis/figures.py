"""Figures drawn from tidy tables only, so they regenerate without touching any run.

``draw(spec, tables, out)`` dispatches on ``spec["type"]`` and writes ``out`` (PNG) and the same name with
``.pdf``, then a provenance sidecar listing the tables it read (which in turn list their runs).
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402

from prunelab import provenance  # noqa: E402
from prunelab.analysis.aggregate import sidecar  # noqa: E402
from prunelab.errors import ConfigError  # noqa: E402
from prunelab.storage import atomic_path  # noqa: E402


def series_label(row: pd.Series) -> str:
    if row["stage"] == "dense":
        return "dense"
    name = row["pruning"] if row["level"] == 0 else f"iterative {row['pruning']}"
    after = "no retraining" if row["stage"] == "pruned" else row["branch"]
    return f"{name} → {after}"


def accuracy_vs_sparsity(ax, table: pd.DataFrame, spec: dict) -> None:
    """Mean ± std over seeds of the chosen accuracy vs achieved sparsity, one line per (method, branch)."""
    metric = spec.get("metric", "test_acc")
    table = table.assign(series=table.apply(series_label, axis=1))
    dense = table[(table["stage"] == "dense") & (table["status"] == "ok")]
    if len(dense):
        mean, std = dense[metric].mean(), dense[metric].std(ddof=0)
        ax.axhline(mean, color="black", linestyle="--", linewidth=1, label=f"dense ({mean:.1f}%)")
        ax.axhspan(mean - std, mean + std, color="black", alpha=0.08)
    for (experiment, series), group in table[table["stage"] != "dense"].groupby(["experiment", "series"], sort=True):
        missing = int((group["status"] != "ok").sum())
        group = group[group["status"] == "ok"]
        stats = (group.groupby("target_sparsity")
                 .agg(x=("sparsity", "mean"), y=(metric, "mean"), e=(metric, "std"), n=(metric, "size"))
                 .reset_index().sort_values("x"))
        label = series if table["experiment"].nunique() == 1 else f"{experiment}: {series}"
        if missing:  # diverged or skipped runs are shown as missing, never silently averaged away
            label += f" [{missing} run(s) missing: diverged/skipped]"
        ax.errorbar(100 * stats["x"], stats["y"], yerr=stats["e"].fillna(0), marker="o", markersize=4,
                    capsize=3, linewidth=1.2, label=label)
    ax.set_xlabel("sparsity of prunable weights (%)")
    ax.set_ylabel(("best-validation " if metric == "best_test_acc" else "") + "test accuracy (%)")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=7, loc="lower left")


FIGURES = {"accuracy_vs_sparsity": accuracy_vs_sparsity}


def draw(spec: dict, tables: list[str | Path], out: str | Path, results: str | Path, name: str = "") -> None:
    """Draw figure ``spec`` from ``tables`` into ``out`` (.png) and its .pdf twin, then the sidecar.

    Paths in the sidecar are relative to ``results`` so the tree can be moved and still audited."""
    if spec["type"] not in FIGURES:
        raise ConfigError(f"figure type {spec['type']!r} is unknown (allowed: {', '.join(FIGURES)})")
    started = provenance.now()
    out = Path(out)
    table = pd.concat([pd.read_csv(t) for t in tables], ignore_index=True)
    fig, ax = plt.subplots(figsize=(6.4, 4.4), constrained_layout=True)
    FIGURES[spec["type"]](ax, table, spec)
    ax.set_title(spec.get("title") or name.replace("_", " "), fontsize=10)
    pdf = out.with_suffix(".pdf")
    with atomic_path(out) as tmp_png:
        fig.savefig(tmp_png, format="png", dpi=150)
    with atomic_path(pdf) as tmp_pdf:
        fig.savefig(tmp_pdf, format="pdf", metadata={"CreationDate": None, "Creator": None, "Producer": None})
    plt.close(fig)
    record = provenance.build({"png": out, "pdf": pdf}, inputs=list(tables), started=started,
                              relative_to=results, extra={"figure": name, "figure_spec": spec})
    provenance.write(sidecar(out), record)
