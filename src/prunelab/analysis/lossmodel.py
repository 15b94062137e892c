"""Laurent et al. 2020, "Revisiting Loss Modelling for Unstructured Pruning": locality and loss vs accuracy.

* ``lossmodel_locality`` — accuracy (after retraining, or right after pruning) vs the locality penalty λ on a
  log axis that still shows λ = 0, one line per (criterion, number of pruning steps T), one panel per
  network (and final sparsity). Settings without λ (e.g. magnitude) are drawn as flat reference lines.
* ``lossmodel_loss_vs_accuracy`` — each pruning setting's loss right after pruning against its accuracy after
  retraining, one colour per criterion, with the rank correlation: the paper's point is that the criterion
  that best preserves the loss is not necessarily the one that retrains best.

No published numbers were verified for this paper (docs/methods.md §4.2): both figures show our runs only.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from prunelab.analysis import labels, plotting
from prunelab.analysis.registry import LAURENT, Drawn, FigureType, Request
from prunelab.analysis.stats import hparam, missing_note, other_hparams, summarise
from prunelab.config.fragments import closed

NO_PUBLISHED = (
    "No verified published numbers for this paper (docs/methods.md §4.2); the replication target is the trend."
)


def _settings(rows: pd.DataFrame, request: Request, stage: str) -> pd.DataFrame:
    """Rows of ``stage`` with the λ value and the other hyperparameters split out of the hparams JSON.

    These figures pool their experiments, so a run that two experiments list (the same mask retrained in both)
    counts once: otherwise its seeds would count twice in n and narrow the interval."""
    key = request.options["hparam"]
    rows = rows[rows["stage"] == stage]
    rows = rows[rows["run"].isna() | ~rows["run"].duplicated()]
    request.require(rows, f"{stage} rows")
    return rows.assign(
        lam=hparam(rows, key), others=other_hparams(rows, key), steps=rows["steps"].fillna(1).astype(int)
    )


def _panels(rows: pd.DataFrame) -> list[tuple[str, float]]:
    return list(dict.fromkeys(zip(rows["dense"], rows["target_sparsity"])))


def _line_label(method: str, steps: int, others: str, several_others: bool) -> str:
    return f"{labels.method(method)}, T = {steps}" + (f" {others}" if several_others and others else "")


def _styles(stats: pd.DataFrame, variants: list[str], methods: list[str]) -> dict[tuple, dict]:
    """Colour per criterion (its place in ``methods``, all criteria of the figure, swept or not), marker and
    dash per ``variants`` within it, the same in every panel."""
    members = {m: sorted(set(zip(*[g[v] for v in variants]))) for m, g in stats.groupby("method")}
    most = max(len(v) for v in members.values())
    return {
        (m, *variant): plotting.grouped_style(methods.index(m), i, most)
        for m, variant_list in members.items()
        for i, variant in enumerate(variant_list)
    }


def locality(rows: pd.DataFrame, request: Request) -> Drawn:
    metric, key = request.metric, request.options["hparam"]
    stage = request.options["stage"]
    rows = _settings(rows, request, stage)
    if rows["lam"].isna().all():
        raise request.error(f"no pruning setting has the hyperparameter {key!r}")
    keys = ["dense", "target_sparsity", "method", "steps", "others", "lam"]
    stats = summarise(rows, keys, metric)
    swept = stats[stats["lam"].notna()].copy()
    swept["x"], zero_at = plotting.log_positions_with_zero(swept["lam"])
    flat = stats[stats["lam"].isna()]
    panels = _panels(rows)
    fig, axes = plotting.panels(len(panels), 1, width=9.0, height=3.9)
    methods = sorted(rows["method"].unique())
    styles = _styles(swept, ["steps", "others"], methods)
    for ax, (dense, sparsity) in zip(axes[:, 0], panels):
        panel = swept[(swept["dense"] == dense) & (swept["target_sparsity"] == sparsity)]
        several = panel.groupby("method")["others"].nunique().max() > 1
        for (method, steps, others), line in panel.groupby(["method", "steps", "others"], sort=True):
            line = line.sort_values("lam")
            label = _line_label(method, steps, others, several) + missing_note(
                int(line["missing"].sum()), ", ".join(w for w in line["missing_why"] if w)
            )
            plotting.errorline(ax, line["x"], line, label, **styles[method, steps, others])
        for _, ref in flat[(flat["dense"] == dense) & (flat["target_sparsity"] == sparsity)].iterrows():
            ax.axhline(
                ref["mean"],
                color=plotting.color(methods.index(ref["method"])),
                linewidth=1,
                linestyle=(0, (1, 1)),
                label=f"{labels.method(ref['method'])}, T = {ref['steps']} (no {key})"
                + missing_note(ref["missing"], ref["missing_why"]),
            )
        ax.set_xscale("log")
        plotting.mark_zero(ax, zero_at)
        stage_text = "after retraining" if stage == "branch" else "right after pruning"
        ax.set_title(f"{labels.dense_title(rows, dense)}, sparsity {sparsity:.4g}", fontsize=plotting.FONT["title"])
        ax.set_xlabel(f"locality penalty {key} (log scale; 0 at the left)")
        ax.set_ylabel(f"{request.metric_label}\n{stage_text}")
        plotting.percent_axis(ax)
        plotting.legend_outside(ax)
    values = pd.concat([swept.assign(x_plotted=swept.pop("x")), flat], ignore_index=True)
    values = values.rename(columns={"lam": key, "others": "other_hparams", "mean": "ours_mean", "std": "ours_std"})
    return Drawn(
        fig,
        values,
        [
            NO_PUBLISHED + " Expected: accuracy depends on λ and T (locality matters), "
            "and LM and QM reach similar accuracy."
        ],
    )


def loss_vs_accuracy(rows: pd.DataFrame, request: Request) -> Drawn:
    metric, loss, key = request.metric, request.options["loss"], request.options["hparam"]
    rows = _settings(rows, request, "branch")
    keys = ["dense", "target_sparsity", "method", "steps", "pruning", "branch"]
    acc = summarise(rows, keys, metric)
    lost = summarise(rows, keys, loss)
    points = acc.rename(columns={"mean": "ours_mean", "std": "ours_std"})
    points.insert(len(keys), loss + "_mean", lost["mean"])
    points.insert(len(keys) + 1, loss + "_std", lost["std"])
    points.insert(len(keys) + 2, loss + "_ci_low", lost["ci_low"])
    points.insert(len(keys) + 3, loss + "_ci_high", lost["ci_high"])
    lam = rows.drop_duplicates("pruning").set_index("pruning")["lam"]
    points.insert(len(keys), key, points["pruning"].map(lam))
    panels = _panels(rows)
    fig, axes = plotting.panels(1, len(panels), width=7.2, height=4.4)
    styles = _styles(points, ["steps"], sorted(rows["method"].unique()))
    notes, correlations = [], []
    for ax, (dense, sparsity) in zip(axes[0], panels):
        panel = points[(points["dense"] == dense) & (points["target_sparsity"] == sparsity)]
        for (method, steps), group in panel.groupby(["method", "steps"], sort=True):
            label = f"{labels.method(method)}, T = {steps}" + missing_note(
                int(group["missing"].sum()), ", ".join(w for w in group["missing_why"] if w)
            )
            ax.errorbar(
                group[loss + "_mean"],
                group["ours_mean"],
                xerr=plotting.interval(group, *(loss + end for end in ("_mean", "_ci_low", "_ci_high"))),
                yerr=plotting.interval(group, "ours_mean"),
                capsize=2,
                elinewidth=0.7,
                markersize=5,
                label=label,
                alpha=0.85,
                **{**styles[method, steps], "linestyle": "none"},
            )
        rho = rank_correlation(panel[loss + "_mean"], panel["ours_mean"])
        correlations.append(rho)
        title = (
            f"{labels.dense_title(rows, dense)}, sparsity {sparsity:.4g}\nSpearman ρ(loss, accuracy) = "
            f"{rho:+.2f} over {int(panel['ours_mean'].notna().sum())} settings"
        )
        ax.set_title(title, fontsize=plotting.FONT["title"])
        if request.options["log_loss"]:
            ax.set_xscale("log")
            plotting.plain_log_ticks(ax, "x")
        ax.set_xlabel(f"{'train' if loss == 'pruned_train_loss' else 'test'} loss right after pruning")
        ax.set_ylabel(f"{request.metric_label}\nafter retraining")
        plotting.percent_axis(ax)
        plotting.legend_outside(ax)
        notes.append(_best_settings(panel, loss, dense, sparsity, rho))
    return Drawn(fig, points, [NO_PUBLISHED, *notes])


def _best_settings(panel: pd.DataFrame, loss: str, dense: str, sparsity: float, rho: float) -> str:
    usable = panel.dropna(subset=[loss + "_mean", "ours_mean"])
    if usable.empty:
        return f"{dense} at sparsity {sparsity:.4g}: no usable setting."
    low = usable.loc[usable[loss + "_mean"].idxmin()]
    best = usable.loc[usable["ours_mean"].idxmax()]
    return (
        f"{dense} at sparsity {sparsity:.4g}: lowest loss right after pruning is {low['pruning']} "
        f"({low[loss + '_mean']:.3g}, retrains to {low['ours_mean']:.2f}%); best after retraining is "
        f"{best['pruning']} ({best['ours_mean']:.2f}%, loss {best[loss + '_mean']:.3g}); Spearman ρ = {rho:+.2f}."
    )


def rank_correlation(x: pd.Series, y: pd.Series) -> float:
    """Spearman's ρ: the Pearson correlation of average ranks, over the pairs where both are known."""
    both = pd.DataFrame({"x": x, "y": y}).dropna()
    if len(both) < 3:
        return float("nan")
    return float(np.corrcoef(both["x"].rank(), both["y"].rank())[0, 1])


HPARAM = {
    "type": "string",
    "minLength": 1,
    "default": "lambda",
    "description": "name of the locality hyperparameter λ in the pruning methods' hparams",
}

FIGURE_TYPES = [
    FigureType(
        "lossmodel_locality",
        LAURENT,
        locality,
        closed(
            {
                "hparam": HPARAM,
                "stage": {
                    "enum": ["branch", "pruned"],
                    "default": "branch",
                    "description": "accuracy after retraining (branch) or right after pruning (pruned)",
                },
            }
        ),
        "Reproduces **Laurent et al. 2020, locality of the pruning step**: accuracy ({metric}) of the {stage} runs "
        "(branch: after retraining, pruned: right after pruning) against the locality penalty {hparam} (log axis, "
        "λ = 0 at the left), one line per (criterion, number of pruning steps T), mean and 95 % t-interval over "
        "seeds of experiment(s) {experiments}; settings without λ (e.g. magnitude) are flat dotted lines. No "
        "published numbers were verified for this paper (docs/methods.md §4.2); the findings to compare: locality "
        "(λ and T) matters, and LM and QM reach similar accuracy.",
        title="Laurent et al. 2020: locality of the pruning step",
    ),
    FigureType(
        "lossmodel_loss_vs_accuracy",
        LAURENT,
        loss_vs_accuracy,
        closed(
            {
                "hparam": HPARAM,
                "loss": {
                    "enum": ["pruned_train_loss", "pruned_test_loss"],
                    "default": "pruned_train_loss",
                    "description": "the loss right after pruning on the x axis",
                },
                "log_loss": {"type": "boolean", "default": True, "description": "log-scale the loss axis"},
            }
        ),
        "Reproduces **Laurent et al. 2020, loss preservation vs final accuracy**: for every pruning setting "
        "(criterion × λ × T) of experiment(s) {experiments}, the {loss} right after pruning (x) against the "
        "accuracy ({metric}) after retraining (y), mean and 95 % t-interval over seeds; the panel title gives "
        "Spearman's rank correlation. The paper's point: the criterion that best preserves the loss right after "
        "pruning is not necessarily the one that gives the best accuracy after retraining. No published numbers "
        "were verified for this paper.",
        title="Laurent et al. 2020: loss right after pruning vs accuracy after retraining",
    ),
]
