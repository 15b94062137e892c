"""Baykal, Liebenwein et al., "SiPPing Neural Networks": test accuracy vs retained parameters.

``sipp_accuracy_vs_retained``: one row of panels per network, the left panel right after pruning (stage
pruned), the right one after retraining (stage branch); one line per pruning setting (SiPP-det/rand/hybrid,
WT = global magnitude, SNIP, ...), retained parameters on a log axis as in the paper. The summary reports,
per setting, the fewest retained parameters whose accuracy stays within ``tolerance`` points of the unpruned
network ("prune ratio at commensurate accuracy"). No published numbers were verified (docs/methods.md §4.4).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from prunelab.analysis import labels, plotting
from prunelab.analysis.registry import SIPP, Drawn, FigureType, Request
from prunelab.analysis.stats import missing_note, summarise
from prunelab.config.fragments import closed

STAGES = {"pruned": "prune only", "branch": "prune + retrain"}
ZOOM_SPAN = 0.5  # accuracy points: a zoomed twin panel is never shorter


def _retained(rows: pd.DataFrame, how: str) -> pd.Series:
    """Retained parameters (%) of each row: of the prunable weights, or of all parameters of its dense net."""
    if how == "prunable":
        return 100 * (1 - rows["sparsity"])
    dense = rows[rows["stage"] == "dense"].set_index(["dense", "seed"])["params"]
    reference = pd.Series([dense.get((d, s), np.nan) for d, s in zip(rows["dense"], rows["seed"])], index=rows.index)
    return 100 * rows["params"] / reference


def accuracy_vs_retained(rows: pd.DataFrame, request: Request) -> Drawn:
    metric, tolerance = request.metric, request.options["tolerance"]
    rows = rows.assign(
        retained=_retained(rows, request.options["retained"]),
        schedule=np.where(rows["level"].fillna(0) > 0, "iterative", "one-shot"),
    )
    pruned = request.require(rows[rows["stage"].isin(list(STAGES))], "pruned or branch rows")
    keys = ["dense", "stage", "pruning", "method", "schedule", "branch", "target_sparsity"]
    stats = summarise(pruned.assign(branch=pruned["branch"].fillna("")), keys, metric)
    retained = summarise(pruned.assign(branch=pruned["branch"].fillna("")), keys, "retained")["mean"]
    stats.insert(len(keys), "retained_pct", retained.fillna(100 * (1 - stats["target_sparsity"])))
    denses = list(dict.fromkeys(sorted(pruned["dense"])))
    unpruned = summarise(rows[rows["stage"] == "dense"], ["dense"], metric).set_index("dense")
    stages = {stage: title for stage, title in STAGES.items() if (stats["stage"] == stage).any()}
    # colour per pruning setting, marker and dash per (schedule, branch) within it, the same in every panel;
    # the branch counts only where the legend names it (several branches), so equal labels look the same
    several_branches = stats[stats["stage"] == "branch"]["branch"].nunique() > 1
    stats["variant"] = list(zip(stats["schedule"], stats["branch"] if several_branches else [""] * len(stats)))
    variants = sorted(set(stats["variant"]))
    cells = {
        (dense, stage): stats[(stats["dense"] == dense) & (stats["stage"] == stage)]
        for dense in denses
        for stage in stages
    }
    zoom = any(plotting.top_band(p["mean"], ZOOM_SPAN) for p in cells.values())
    fig, axes, zooms = plotting.panels_with_zoom(len(denses), len(stages), zoom, width=4.4 if zoom else 5.0, height=3.7)
    names, branch_names = labels.pruning_settings(pruned), labels.branches(pruned)
    prunings = sorted(pruned["pruning"].unique())
    notes = [
        f"No verified published numbers (docs/methods.md §4.4). Retained parameters: "
        f"{request.options['retained']} weights. Smallest retained % within {tolerance:g} points of the "
        f"unpruned accuracy, per setting:"
    ]
    for r, dense in enumerate(denses):
        base = unpruned.loc[dense] if dense in unpruned.index else None
        row_axes = []
        for c, (stage, stage_title) in enumerate(stages.items()):
            panel = cells[dense, stage]
            targets = [axes[r, c]] + ([zooms[r, c]] if zoom else [])
            for k, ax in enumerate(targets):
                ax.set_title(f"{labels.dense_title(rows, dense)}: {stage_title}", fontsize=plotting.FONT["title"])
                if panel.empty:  # e.g. a network only pruned, never retrained, in these experiments
                    ax.text(
                        0.5,
                        0.5,
                        f"no '{stage_title}' runs of this network\nin the figure's experiments",
                        ha="center",
                        va="center",
                        transform=ax.transAxes,
                        fontsize=plotting.FONT["title"],
                    )
                    ax.set_axis_off()
                    ax.set_visible(k == 0)
                    continue
                if base is not None:
                    plotting.dense_band(ax, base, f"unpruned ({base['mean']:.2f}%, n = {base['n']})")
                for (pruning, _method, schedule, branch), line in panel.groupby(
                    ["pruning", "method", "schedule", "branch"], sort=True
                ):
                    line = line.sort_values("retained_pct")
                    label = names[pruning] + (f", {schedule}" if schedule != "one-shot" else "")
                    label += f" → {branch_names[branch]}" if several_branches and branch else ""
                    label += missing_note(int(line["missing"].sum()), ", ".join(w for w in line["missing_why"] if w))
                    plotting.errorline(
                        ax,
                        line["retained_pct"],
                        line,
                        label,
                        **plotting.grouped_style(
                            prunings.index(pruning), variants.index(line["variant"].iloc[0]), len(variants)
                        ),
                    )
                    if base is not None and k == 0:
                        notes.append(_commensurate(line, base["mean"], tolerance, dense, stage_title, label))
                ax.set_xscale("log")
                plotting.plain_log_ticks(ax, "x")
                ax.set_xlabel("retained parameters (%, log scale)")
                ax.set_ylabel(request.metric_label)
                plotting.percent_axis(ax)
            if zoom and not panel.empty:
                plotting.zoom_on(targets[0], targets[1], panel["mean"], ZOOM_SPAN, None)
            row_axes += [ax for ax in targets if ax.get_visible() and ax.axison]
        if row_axes:
            plotting.legend_outside(row_axes[-1], also=row_axes[:-1])
    values = stats.drop(columns="variant").rename(columns={"mean": "ours_mean", "std": "ours_std"})
    return Drawn(fig, values, notes)


def _commensurate(line: pd.DataFrame, dense_acc: float, tolerance: float, dense: str, stage: str, label: str) -> str:
    within = line[line["mean"] >= dense_acc - tolerance]
    where = f"{within['retained_pct'].min():.3g}%" if len(within) else "none of the points"
    return f"{dense}, {stage}, {label}: {where}"


FIGURE_TYPES = [
    FigureType(
        "sipp_accuracy_vs_retained",
        SIPP,
        accuracy_vs_retained,
        closed(
            {
                "retained": {
                    "enum": ["prunable", "all"],
                    "default": "prunable",
                    "description": "retained % of the prunable weights (1 − sparsity) or of all parameters "
                    "(params column over the dense run's)",
                },
                "tolerance": {
                    "type": "number",
                    "minimum": 0,
                    "default": 1.0,
                    "description": "accuracy points below unpruned still counted as commensurate",
                },
            }
        ),
        "Reproduces **Baykal, Liebenwein et al., SiPPing Neural Networks**: test accuracy ({metric}) against the "
        "retained parameters ({retained} weights, log axis), right after pruning (left) and after retraining "
        "(right), one line per pruning setting, mean and 95 % t-interval over seeds of experiment(s) "
        "{experiments}. The summary gives, per setting, the fewest retained parameters whose accuracy stays within "
        "{tolerance} points of the unpruned net. No published numbers were verified (docs/methods.md §4.4); the "
        "claim to compare: SiPP keeps accuracy at high compression, at least as well as magnitude thresholding "
        "(WT) and SNIP.",
        title="Baykal, Liebenwein et al.: accuracy vs retained parameters",
    ),
]
