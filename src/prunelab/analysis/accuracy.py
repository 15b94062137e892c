"""The generic figure: accuracy vs achieved sparsity for any experiment, one line per (pruning, branch).

Methods that all keep the accuracy within a point of each other would merge into one line on an axis that
also has to show the collapsed ones, so when the points spread far, a second panel zooms on the upper half
of them, with a right-hand axis in points relative to the dense network.
"""

from __future__ import annotations

import pandas as pd

from prunelab.analysis import labels, plotting
from prunelab.analysis.figure_type import GENERIC, Drawn, FigureType, Request
from prunelab.analysis.options import Option, subset_of
from prunelab.analysis.stats import ERROR_BAR, missing_note, summarise


def series_labels(rows: pd.DataFrame) -> pd.Series:
    """The legend text of each pruned/branch row: what pruned it, and what was trained after (if anything);
    the experiment's name is added only where two experiments would otherwise share a label."""
    prunings, branches = labels.pruning_settings(rows), labels.branches(rows)
    text = pd.Series([("iterative " if level > 0 else "") + prunings[pruning]
                      + (f", {labels.NO_RETRAINING}" if stage == "pruned" else f" → {branches[branch]}")
                      for pruning, level, stage, branch in zip(rows["pruning"], rows["level"].fillna(0),
                                                               rows["stage"], rows["branch"])], index=rows.index)
    shared = text.groupby(text).transform(lambda same: rows.loc[same.index, "experiment"].nunique() > 1)
    return text.where(~shared.astype(bool), rows["experiment"] + ": " + text)


def accuracy_vs_sparsity(rows: pd.DataFrame, request: Request) -> Drawn:
    """Mean and 95 % interval over seeds of the chosen accuracy vs achieved sparsity, one line per series."""
    metric = request.metric
    stages = request.options["stages"]
    pruned = request.require(rows[rows["stage"].isin(stages)], " or ".join(stages) + " rows")
    pruned = pruned.assign(series=series_labels(pruned))
    keys = ["experiment", "series", "target_sparsity"]
    stats = summarise(pruned, keys, metric)
    achieved = summarise(pruned, keys, "sparsity")
    stats["sparsity"] = achieved["mean"].fillna(stats["target_sparsity"])  # all runs missing: at the target
    dense = summarise(rows[rows["stage"] == "dense"].assign(all="dense"), ["all"], metric)
    band = plotting.top_band(stats["mean"], stats["ci_high"], min_span=0.5)
    fig, axes = plotting.panels(1, 2 if band else 1, width=5.2, height=4.4)
    for ax in axes[0]:
        for _, d in dense.iterrows():
            plotting.dense_band(ax, d, f"dense ({d['mean']:.2f}%, n = {d['n']})"
                                + missing_note(d["missing"], d["missing_why"]))
        for i, (series, line) in enumerate(stats.groupby("series", sort=True)):
            line = line.sort_values("target_sparsity")
            label = series + missing_note(int(line["missing"].sum()), ", ".join(w for w in line["missing_why"] if w))
            plotting.errorline(ax, 100 * line["sparsity"], line, label, **plotting.style(i))
        ax.set_xlabel("sparsity of prunable weights (%)")
        ax.set_ylabel(request.metric_label)
    if band:
        _zoom(axes[0], band, stats, dense)
    plotting.figure_legend(fig, axes[0])
    values = stats.rename(columns={"mean": "ours_mean", "std": "ours_std"})
    return Drawn(fig, values, [f"{len(stats)} points, mean and {ERROR_BAR} per point."])


def _zoom(axes, band: tuple[float, float], stats: pd.DataFrame, dense: pd.DataFrame) -> None:
    full, zoom = axes
    low, high = band
    below = int((stats["mean"] < low).sum())
    full.set_title("all points", fontsize=plotting.FONT["title"])
    zoom.set_title(f"zoom on the upper points ({below} of {stats['mean'].notna().sum()} lie below, see left)",
                   fontsize=plotting.FONT["title"])
    zoom.set_ylim(low, high)
    full.axhspan(low, high, facecolor="none", edgecolor="grey", linestyle="--", linewidth=0.8)
    if len(dense) and pd.notna(dense["mean"].iloc[0]):
        reference = float(dense["mean"].iloc[0])
        right = zoom.secondary_yaxis("right", functions=(lambda y: y - reference, lambda d: d + reference))
        right.set_ylabel("difference to the dense mean (points)")


FIGURE_TYPES = [
    FigureType("accuracy_vs_sparsity", GENERIC, accuracy_vs_sparsity,
               {"stages": Option(["pruned", "branch"], subset_of("pruned", "branch"),
                                 "which rows to draw: right after pruning (pruned) and/or after a branch")},
               "accuracy vs achieved sparsity, one line per (pruning setting, branch), dense baseline band"),
]
