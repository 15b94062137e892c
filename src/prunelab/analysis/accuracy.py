"""The generic figure: accuracy vs achieved sparsity for any experiment, one line per (pruning, branch).

Methods that all keep the accuracy within a point of each other would merge into one line on an axis that
also has to show the collapsed ones, so when the points spread far, a second panel zooms on the upper half
of them, with a right-hand axis in points relative to the dense network.
"""

from __future__ import annotations

import pandas as pd

from prunelab.analysis import labels, plotting
from prunelab.analysis.registry import GENERIC, Drawn, FigureType, Request, subset
from prunelab.analysis.stats import ERROR_BAR, missing_note, summarise
from prunelab.config.fragments import closed

MIN_SPAN = 0.5  # accuracy points: the zoomed panel is never shorter (seed noise of the small demo nets)


def series_labels(rows: pd.DataFrame) -> pd.Series:
    """The legend text of each pruned/branch row: what pruned it, and what was trained after (if anything) by
    the branch's config name, the name the reader gave it (what each branch trains is in the caption,
    :func:`prunelab.analysis.labels.branch_key`); the experiment's name is added only where two experiments
    would otherwise share a label."""
    prunings = labels.pruning_settings(rows)
    text = pd.Series(
        [
            ("iterative " if level > 0 else "")
            + prunings[pruning]
            + (f", {labels.NO_RETRAINING}" if stage == "pruned" else f" → {branch}")
            for pruning, level, stage, branch in zip(
                rows["pruning"], rows["level"].fillna(0), rows["stage"], rows["branch"]
            )
        ],
        index=rows.index,
    )
    shared = text.groupby(text).transform(lambda same: rows.loc[same.index, "experiment"].nunique() > 1)
    return text.where(~shared.astype(bool), rows["experiment"] + ": " + text)


def merge_shared_series(rows: pd.DataFrame) -> pd.DataFrame:
    """Series made of the same runs drawn once, under both names, each run counted once.

    Two branch labels can resolve to one run (Scratch-E on a net without conv layers plans its re-init run):
    two lines on top of each other would hide one of them, and concatenating them would count every seed
    twice. Series whose run ids are unknown are left as they are."""
    runs = rows.groupby("series")["run"].agg(lambda runs: tuple(sorted(runs)) if runs.notna().all() else None)
    runs = runs.dropna()
    names: dict[str, str] = {}
    for same in runs.groupby(runs).groups.values():
        if len(same) > 1:
            label = " = ".join(sorted(same, key=str.casefold)) + " (the same runs)"
            names.update({series: label for series in same})
    if not names:
        return rows
    merged = rows.assign(series=rows["series"].map(lambda series: names.get(series, series)))
    return merged[~(merged["series"].isin(names.values()) & merged.duplicated(["series", "run"]))]


def accuracy_vs_sparsity(rows: pd.DataFrame, request: Request) -> Drawn:
    """Mean and 95 % interval over seeds of the chosen accuracy vs achieved sparsity, one line per series."""
    metric = request.metric
    stages = request.options["stages"]
    pruned = request.require(rows[rows["stage"].isin(stages)], " or ".join(stages) + " rows")
    pruned = merge_shared_series(pruned.assign(series=series_labels(pruned)))
    keys = ["experiment", "series", "target_sparsity"]
    stats = summarise(pruned, keys, metric)
    achieved = summarise(pruned, keys, "sparsity")
    stats["sparsity"] = achieved["mean"].fillna(stats["target_sparsity"])  # all runs missing: at the target
    dense = summarise(rows[rows["stage"] == "dense"].assign(all="dense"), ["all"], metric)
    band = plotting.top_band(stats["mean"], MIN_SPAN)
    fig, axes, zooms = plotting.panels_with_zoom(
        1, 1, band is not None, width=4.3 if band else 5.2, height=4.2, legend_row=True
    )
    means = pd.concat([stats["mean"], dense["mean"]])
    full = plotting.value_limits(means, stats["ci_low"], stats["ci_high"], MIN_SPAN) or (0.0, 100.0)
    targets = [(axes[0, 0], full)] + ([(zooms[0, 0], band)] if band else [])
    series = sorted(stats["series"].unique(), key=str.casefold)
    shifts = plotting.dodge(len(series))
    clipped = 0
    for ax, limits in targets:
        for _, d in dense.iterrows():
            plotting.dense_band(
                ax, d, f"dense ({d['mean']:.2f}%, n = {d['n']})" + missing_note(d["missing"], d["missing_why"])
            )
        for i, name in enumerate(series):
            line = stats[stats["series"] == name].sort_values("target_sparsity")
            label = name + missing_note(int(line["missing"].sum()), ", ".join(w for w in line["missing_why"] if w))
            clipped += plotting.errorline(
                ax, 100 * line["sparsity"], line, label, shift=shifts[i], limits=limits, **plotting.style(i)
            )
        ax.set_xlabel("sparsity of prunable weights (%)")
        plotting.make_room(ax, 100 * stats["sparsity"], float(abs(shifts).max()))
        ax.set_ylabel(request.metric_label)
    if band:
        axes[0, 0].set_title("all points", fontsize=plotting.FONT["title"])
        plotting.zoom_on(
            axes[0, 0], zooms[0, 0], stats["mean"], MIN_SPAN, dense["mean"].iloc[0] if len(dense) else None
        )
    plotting.figure_legend(fig, [ax for ax, _ in targets])
    values = stats.rename(columns={"mean": "ours_mean", "std": "ours_std"})
    note = plotting.dodge_note(len(series)) + (plotting.CLIPPED_NOTE if clipped else "")
    trained = labels.branch_key(rows[rows["stage"].isin(stages)])
    return Drawn(
        fig,
        values,
        [f"{len(stats)} points, mean and {ERROR_BAR} per point.{note}", *trained],
        " ".join([*trained, note.strip()]).strip(),
    )


FIGURE_TYPES = [
    FigureType(
        "accuracy_vs_sparsity",
        GENERIC,
        accuracy_vs_sparsity,
        closed(
            {
                "stages": subset(
                    ["pruned", "branch"],
                    ["pruned", "branch"],
                    "which rows to draw: right after pruning (pruned) and/or after a branch",
                ),
            }
        ),
        "Test accuracy ({metric}) against the achieved sparsity of the prunable weights, mean and 95 % t-interval "
        "over seeds, one line per (pruning setting, branch) of experiment(s) {experiments} (stages: {stages}); "
        "the dotted line and band are the unpruned networks. Where the points spread far, a second panel zooms "
        "on the upper half of them. This generic figure has no published reference.",
        title="Accuracy vs sparsity of the prunable weights",
    ),
]
