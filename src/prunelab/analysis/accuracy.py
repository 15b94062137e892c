"""The generic figure: accuracy vs achieved sparsity for any experiment, one line per (pruning, branch)."""

from __future__ import annotations

import pandas as pd

from prunelab.analysis import plotting
from prunelab.analysis.figure_type import GENERIC, Drawn, FigureType, Request
from prunelab.analysis.options import Option, subset_of
from prunelab.analysis.stats import missing_note, summarise


def series_label(row: pd.Series) -> str:
    name = row["pruning"] if row["level"] == 0 else f"iterative {row['pruning']}"
    after = "no retraining" if row["stage"] == "pruned" else row["branch"]
    return f"{name} → {after}"


def accuracy_vs_sparsity(rows: pd.DataFrame, request: Request) -> Drawn:
    """Mean ± std over seeds of the chosen accuracy vs achieved sparsity, one line per (method, branch)."""
    metric = request.metric
    fig, axes = plotting.panels(1, 1, width=6.4, height=4.4)
    ax = axes[0, 0]
    dense = summarise(rows[rows["stage"] == "dense"].assign(all="dense"), ["all"], metric)
    for _, d in dense.iterrows():
        plotting.dense_band(ax, d["mean"], d["std"], f"dense ({d['mean']:.1f}%)" + missing_note(d["missing"],
                                                                                                 d["missing_why"]))
    stages = request.options["stages"]
    pruned = request.require(rows[rows["stage"].isin(stages)], " or ".join(stages) + " rows")
    pruned = pruned.assign(series=pruned.apply(series_label, axis=1))
    several = pruned["experiment"].nunique() > 1
    stats = summarise(pruned, ["experiment", "series", "target_sparsity"], metric)
    achieved = summarise(pruned, ["experiment", "series", "target_sparsity"], "sparsity")
    stats["sparsity"] = achieved["mean"].fillna(stats["target_sparsity"])  # all runs missing: at the target
    for i, ((experiment, series), line) in enumerate(stats.groupby(["experiment", "series"], sort=True)):
        line = line.sort_values("target_sparsity")
        label = f"{experiment}: {series}" if several else series
        label += missing_note(int(line["missing"].sum()), ", ".join(w for w in line["missing_why"] if w))
        plotting.errorline(ax, 100 * line["sparsity"], line, label, color=plotting.color(i),
                           marker=plotting.MARKERS[i // 10 % len(plotting.MARKERS)],
                           linestyle=plotting.LINESTYLES[i // 10 % len(plotting.LINESTYLES)])  # >10 lines stay apart
    ax.set_xlabel("sparsity of prunable weights (%)")
    ax.set_ylabel(request.metric_label)
    plotting.legend(ax, loc="lower left")
    values = stats.rename(columns={"mean": "ours_mean", "std": "ours_std"})
    return Drawn(fig, values, [f"{len(stats)} points, mean ± std over seeds."])


FIGURE_TYPES = [
    FigureType("accuracy_vs_sparsity", GENERIC, accuracy_vs_sparsity,
               {"stages": Option(["pruned", "branch"], subset_of("pruned", "branch"),
                                 "which rows to draw: right after pruning (pruned) and/or after a branch")},
               "accuracy vs achieved sparsity, one line per (pruning setting, branch), dense baseline band"),
]
