"""Wang et al. 2021, "Dynamical Isometry": mean JSV after pruning, and fine-tuning LR with/without isometry.

* ``dyniso_jsv`` — mean Jacobian singular value right after pruning vs the pruning ratio (the run's target
  sparsity, which for ``l1_filter`` is Wang's per-layer unit ratio), log y, mean and 95 % interval over seeds per
  (network, activation), with the authors' two published runs (mean ± std) overlaid for MLP-7 and LeNet-5,
  linear and ReLU. The CSV adds the difference and the relative difference (target: within about 20%).
* ``dyniso_finetune_lr`` — test accuracy after fine-tuning at LR 1e-2 vs 1e-3, without and with isometry
  recovery (OrthP / approximate isometry), per network and pruning ratio, as grouped bars.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from prunelab.analysis import labels, overlay, plotting
from prunelab.analysis.registry import WANG, Drawn, FigureType, Request, subset
from prunelab.analysis.stats import missing_note, summarise
from prunelab.config.fragments import closed
from prunelab.replication import references

PUBLISHED_LABEL = "published (Wang et al. 2021, 2 runs)"
HATCH = {"none": "", "orthp": "///", "ai": "xxx"}
LABEL_GAP_PT = 3.0  # between an error bar's cap (1 pt thick) and the value written above it


def jsv(rows: pd.DataFrame, request: Request) -> Drawn:
    pruned = rows[rows["stage"] == "pruned"]
    request.require(pruned[pruned["jsv_mean"].notna()], "pruned rows with a measured JSV (pruning.*.jsv.batches > 0)")
    keys = ["dense", "model", "activation", "dataset", "pruning", "target_sparsity"]
    stats = summarise(pruned, keys, "jsv_mean").rename(columns={"mean": "ours_mean", "std": "ours_std"})
    published = references.wang_jsv()
    values = overlay.attach(
        stats,
        published,
        {"model": "model", "activation": "activation", "target_sparsity": "pruning_ratio"},
        request.options["published"],
    )
    values["relative_difference"] = values["difference"] / values["published_mean"]
    fig, axes = plotting.panels(1, 1, width=10.5, height=4.8)
    ax = axes[0, 0]
    several_prunings = stats["pruning"].nunique() > 1
    prunings = labels.pruning_settings(pruned)
    for i, ((_, pruning), line) in enumerate(values.groupby(["dense", "pruning"], sort=True)):
        line = line.sort_values("target_sparsity")
        name = labels.network(line.iloc[0]) + (f" · {prunings[pruning]}" if several_prunings else "")
        label = f"{name} (ours, n={line['n'].max()})" + missing_note(
            int(line["missing"].sum()), ", ".join(w for w in line["missing_why"] if w)
        )
        plotting.errorline(
            ax,
            line["target_sparsity"],
            line.rename(columns={"ours_mean": "mean", "ours_std": "std"}),
            label,
            **plotting.style(i),
        )
        pub = line.dropna(subset=["published_mean"])
        if len(pub):
            plotting.errorline(
                ax,
                pub["target_sparsity"],
                pd.DataFrame({"mean": pub["published_mean"], "std": pub["published_std"]}),
                f"{labels.network(pub.iloc[0]).split(' on ')[0]} {PUBLISHED_LABEL}",
                published=True,
                color=plotting.color(i),
            )
    ax.set_yscale("log")
    ax.set_xlabel("pruning ratio (target sparsity of the pruning setting)")
    ax.set_ylabel("mean JSV right after pruning (log scale)")
    plotting.legend_outside(ax)
    return Drawn(fig, values, _jsv_notes(values))


def _jsv_notes(values: pd.DataFrame) -> list[str]:
    notes = []
    for (_, pruning), line in values.groupby(["dense", "pruning"], sort=True):
        line = line.sort_values("target_sparsity").dropna(subset=["ours_mean"])
        if len(line) < 2:
            continue
        first, last = line.iloc[0], line.iloc[-1]
        text = (
            f"{labels.network(first)} ({pruning}): mean JSV {first['ours_mean']:.4g} at ratio "
            f"{first['target_sparsity']:g} → {last['ours_mean']:.4g} at {last['target_sparsity']:g} "
            f"({np.log10(first['ours_mean'] / last['ours_mean']):.2f} decades)"
        )
        compared = line.dropna(subset=["published_mean"])
        if len(compared):
            within = int((compared["relative_difference"].abs() <= 0.2).sum())
            text += (
                f"; vs published: relative difference from {compared['relative_difference'].min():+.0%} to "
                f"{compared['relative_difference'].max():+.0%}, within 20% at {within}/{len(compared)} ratios"
            )
        notes.append(text + ".")
    if not values["published_mean"].notna().any():
        notes.append(
            "No published value matches (Wang et al. publish MLP-7 and LeNet-5, linear and ReLU, on mnist; "
            "set options.published: any_dataset to overlay them on proxy runs)."
        )
    return notes


def finetune_lr(rows: pd.DataFrame, request: Request) -> Drawn:
    metric = request.metric
    branch = rows[(rows["stage"] == "branch") & rows["branch_type"].isin(request.options["branch_types"])]
    request.require(branch, f"branch rows of type {', '.join(request.options['branch_types'])}")
    branch = branch.assign(isometry=branch["isometry"].fillna("none"))
    keys = ["dense", "model", "activation", "dataset", "target_sparsity", "branch", "branch_lr", "isometry"]
    stats = summarise(branch, keys, metric).rename(columns={"mean": "ours_mean", "std": "ours_std"})
    settings = (
        stats[["branch", "branch_lr", "isometry"]]
        .drop_duplicates()
        .sort_values(["branch_lr", "isometry", "branch"], ascending=[False, True, True])
    )
    settings = list(settings.itertuples(index=False))
    counts = pd.Series([(lr, isometry) for _, lr, isometry in settings]).value_counts()
    repeated = set(counts[counts > 1].index)  # two branches at one (LR, isometry): name them apart
    lrs = sorted(stats["branch_lr"].unique(), reverse=True)
    denses = list(dict.fromkeys(sorted(stats["dense"])))
    ratios_most = stats.groupby("dense")["target_sparsity"].nunique().max()
    fig, axes = plotting.panels(1, len(denses), width=max(4.8, 0.6 * len(settings) * ratios_most + 1.6), height=5.0)
    width = 0.8 / len(settings)
    unpruned = summarise(rows[rows["stage"] == "dense"], ["dense"], metric).set_index("dense")
    for ax, dense in zip(axes[0], denses):
        panel = stats[stats["dense"] == dense]
        ratios = sorted(panel["target_sparsity"].unique())
        shown = []
        if dense in unpruned.index:
            base = unpruned.loc[dense]
            plotting.dense_band(ax, base, f"unpruned ({base['mean']:.2f}%, n = {base['n']})")
            shown.append(pd.Series([base["mean"]]))
        for j, (name, lr, isometry) in enumerate(settings):
            bars = panel[panel["branch"] == name].set_index("target_sparsity").reindex(ratios)
            x = np.arange(len(ratios)) + (j - (len(settings) - 1) / 2) * width
            label = (
                f"{labels.lr(lr)}, {labels.ISOMETRY.get(isometry, isometry)}"
                + (f" [{name}]" if (lr, isometry) in repeated else "")
                + missing_note(
                    int(bars["missing"].fillna(0).sum()), ", ".join(w for w in bars["missing_why"].fillna("") if w)
                )
            )
            ax.bar(
                x,
                bars["ours_mean"],
                width * 0.92,
                yerr=bar_interval(bars),
                capsize=2,
                color=plotting.color(lrs.index(lr)),
                alpha=0.9 if isometry == "none" else 0.6,
                hatch=HATCH.get(isometry, ".."),
                edgecolor="black",
                linewidth=0.5,
                label=label,
                error_kw={"linewidth": 0.8},
            )
            for xi, mean, top in zip(x, bars["ours_mean"], bars["ci_high"].fillna(bars["ours_mean"])):
                if np.isfinite(mean):  # the value above its error bar's cap, not on it
                    ax.annotate(
                        f"{mean:.1f}",
                        (xi, top),
                        xytext=(0, LABEL_GAP_PT),
                        textcoords="offset points",
                        ha="center",
                        va="bottom",
                        fontsize=6,
                        rotation=90,
                    )
                else:
                    ax.annotate(
                        "n/a",
                        (xi, 0),
                        xycoords=("data", "axes fraction"),
                        xytext=(0, 3),
                        textcoords="offset points",
                        ha="center",
                        fontsize=6,
                        color="red",
                    )
            shown += [bars["ci_low"].fillna(bars["ours_mean"]), bars["ci_high"].fillna(bars["ours_mean"])]
        plotting.zoom_accuracy(ax, shown, min_span=1.0)
        ax.set_xticks(np.arange(len(ratios)), [f"{r:g}" for r in ratios])
        ax.set_xlabel("pruning ratio")
        ax.set_ylabel(f"{request.metric_label}\nafter fine-tuning")
        ax.set_title(labels.dense_title(rows, dense), fontsize=plotting.FONT["title"])
        plotting.legend_below(ax, ncol=1)  # one column: the labels are long, the panels narrow
    return Drawn(
        fig,
        stats,
        [
            "No verified published accuracies (Wang et al.'s tables are unverified, "
            "docs/methods.md §6.3); the claim to check: with isometry recovery the gap between "
            "LR 1e-2 and 1e-3 closes.",
            *_lr_notes(stats),
        ],
    )


def bar_interval(bars: pd.DataFrame) -> np.ndarray:
    """The bars' error extents (:func:`plotting.interval`), with none at all where a bar has no interval
    (n = 1): a zero-length bar still draws its cap, a tick on the bar's top that the value label ran into."""
    yerr = plotting.interval(bars, "ours_mean")
    yerr[:, bars["ci_high"].isna().to_numpy()] = np.nan
    return yerr


def _lr_notes(stats: pd.DataFrame) -> list[str]:
    notes = []
    for (dense, ratio), group in stats.groupby(["dense", "target_sparsity"], sort=True):
        parts = [
            f"{labels.lr(r.branch_lr)} {labels.ISOMETRY.get(r.isometry, r.isometry)}: "
            + (f"{r.ours_mean:.2f} ± {r.ours_std:.2f}" if np.isfinite(r.ours_mean) else "missing")
            for r in group.sort_values(["branch_lr", "isometry"], ascending=[False, True]).itertuples()
        ]
        notes.append(f"{dense} at ratio {ratio:g}: " + "; ".join(parts) + ".")
    return notes


FIGURE_TYPES = [
    FigureType(
        "dyniso_jsv",
        WANG,
        jsv,
        closed({"published": overlay.PUBLISHED}),
        "Reproduces **Wang et al. 2021, mean Jacobian singular value vs pruning ratio**: the mean JSV "
        "(input → logits) measured right after L1 filter pruning, before any fine-tuning, against the "
        "pruning ratio (log y), mean and 95 % t-interval over seeds per network and activation, from "
        'experiment(s) {experiments}.\n\nPublished values (dashed, hollow diamonds, "published") are the '
        "two runs hard-coded in the authors' plotting script for MLP-7 and LeNet-5, linear and ReLU, on MNIST "
        "(docs/methods.md §4.3, tag V:S5), shown as their mean ± std (ddof = 0, as the authors plot them); "
        "overlay mode: {published}. The CSV gives the difference and the relative difference per ratio. "
        "Targets: a monotone decrease, MLP-7-Linear falling by more than three decades from ratio 0 to 0.9, "
        "and values within about 20% where the base training matches.",
        title="Wang et al. 2021: mean Jacobian singular value vs pruning ratio",
    ),
    FigureType(
        "dyniso_finetune_lr",
        WANG,
        finetune_lr,
        closed(
            {
                "branch_types": subset(labels.BRANCH_TYPE, ["finetune"], "branch types drawn as bars"),
            }
        ),
        "Reproduces **Wang et al. 2021, fine-tuning learning rate with and without isometry recovery**: accuracy "
        "({metric}) after fine-tuning the pruned networks ({branch_types} branches) at each fine-tuning LR, without "
        "(solid) and with (hatched) dynamical-isometry recovery (OrthP or approximate isometry), per network and "
        "pruning ratio, mean and 95 % t-interval over seeds of experiment(s) {experiments}; the dotted line is the "
        "unpruned net. Wang et al.'s accuracy tables are unverified, so none are drawn; the claim to compare: the "
        "large LR (1e-2) beats the small one (1e-3) without recovery, and isometry recovery closes that gap.",
        title="Wang et al. 2021: fine-tuning LR with and without isometry recovery",
    ),
]
