"""Liu et al. 2019, "Rethinking the Value of Network Pruning": Table 1, weight-level pruning, lottery tickets.

* ``rethinking_table1`` — per network and pruned architecture (A/B): unpruned, fine-tuned, Scratch-E and
  Scratch-B accuracy (mean and 95 % interval over seeds) as grouped bars, with Table 1's verified values overlaid and
  the Scratch-B budget F_dense/F_pruned − 1 (ours from the FLOPs counter, published from Renda's transcription)
  under each group.
* ``rethinking_weight_level`` — unstructured (Han et al.) pruning: accuracy vs prune ratio for fine-tuning,
  Scratch-E and Scratch-B, one panel per network.
* ``rethinking_lottery`` — iterative pruning: winning-ticket init vs random re-init vs sparsity, one panel per
  (network, dense learning rate): the paper's point is that the ticket helps only at the small LR.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from prunelab.analysis import labels, overlay, plotting
from prunelab.analysis.registry import LIU, Drawn, FigureType, Request, subset
from prunelab.analysis.stats import missing_note, summarise
from prunelab.config.fragments import closed
from prunelab.errors import ConfigError
from prunelab.replication import references

TABLE1_COLUMNS = ["unpruned", "finetune", "scratch_e", "scratch_b"]
COLUMN_LABEL = {"unpruned": "unpruned", **labels.BRANCH_TYPE}
PUBLISHED_LABEL = "published (Liu et al. 2019, Table 1)"
ZOOM_SPAN = 0.5  # accuracy points: a zoomed twin panel is never shorter


# --- Table 1 ------------------------------------------------------------------------------------------------


def _table1_rows(rows: pd.DataFrame, request: Request) -> pd.DataFrame:
    """Branch rows labelled with their Table 1 column and architecture; ambiguous configs raise."""
    columns, archs = request.options["columns"], request.options["architectures"]
    branch = rows[rows["stage"] == "branch"].copy()
    branch["column"] = [columns.get(b, t) for b, t in zip(branch["branch"], branch["branch_type"])]
    branch = branch[branch["column"].isin(TABLE1_COLUMNS[1:])]
    # one architecture per (pruning, sparsity): a pruning setting run at several sparsities gives several
    several = branch.groupby("pruning")["target_sparsity"].nunique()
    branch["architecture"] = [
        archs.get(p, p) + (f" @ {s:g}" if several[p] > 1 else "")
        for p, s in zip(branch["pruning"], branch["target_sparsity"])
    ]
    for (dense, arch, column), group in branch.groupby(["dense", "architecture", "column"]):
        for what in ("branch", "pruning"):
            if group[what].nunique() > 1:
                raise ConfigError(
                    f"config key figures.{request.name}.options: column {column} of {dense} "
                    f"architecture {arch} comes from several {what} values "
                    f"({', '.join(map(str, sorted(group[what].unique())))}); map one per column "
                    f"with options.columns / options.architectures"
                )
    return branch


def _epoch_factors(rows: pd.DataFrame, branch: pd.DataFrame) -> pd.DataFrame:
    """Ours F_dense/F_pruned − 1 per (dense, architecture) from the ops of each seed's dense and pruned net."""
    dense = rows[rows["stage"] == "dense"][["dense", "seed", "ops"]].rename(columns={"ops": "dense_ops"})
    arch = branch[["dense", "pruning", "target_sparsity", "architecture"]].drop_duplicates()
    pruned = rows[rows["stage"] == "pruned"].merge(arch, on=["dense", "pruning", "target_sparsity"])
    pruned = pruned.merge(dense, on=["dense", "seed"], how="left")
    pruned["scratch_b_epoch_factor"] = pruned["dense_ops"] / pruned["ops"] - 1
    return summarise(pruned, ["dense", "architecture"], "scratch_b_epoch_factor")


def table1(rows: pd.DataFrame, request: Request) -> Drawn:
    metric = request.metric
    branch = request.require(_table1_rows(rows, request), "fine-tune / Scratch-E / Scratch-B branch rows")
    dense_rows = rows[(rows["stage"] == "dense") & rows["dense"].isin(branch["dense"])]
    unpruned = summarise(dense_rows, ["dense"], metric)
    cells = summarise(branch, ["dense", "architecture", "column"], metric)
    grid = branch[["dense", "architecture"]].drop_duplicates()
    unpruned = grid.merge(unpruned, on="dense").assign(column="unpruned")
    cells = pd.concat([unpruned, cells], ignore_index=True)
    info = rows.drop_duplicates("dense").set_index("dense")
    cells["model"] = cells["dense"].map(info["model"])
    cells["dataset"] = cells["dense"].map(info["dataset"])
    cells["quantity"] = "test_acc"
    cells = cells.rename(columns={"mean": "ours_mean", "std": "ours_std"})
    factors = _epoch_factors(rows, branch).rename(columns={"mean": "ours_mean", "std": "ours_std"})
    factors = factors.assign(
        model=factors["dense"].map(info["model"]),
        dataset=factors["dense"].map(info["dataset"]),
        quantity="scratch_b_epoch_factor",
        column="scratch_b",
    )
    mode = request.options["published"]
    on = {"model": "model", "architecture": "architecture", "column": "column"}
    cells = overlay.attach(cells, references.liu_table1(), on, mode)
    factors = overlay.attach(
        factors, references.liu_epoch_factors(), {"model": "model", "architecture": "architecture"}, mode
    )
    order = {c: i for i, c in enumerate(TABLE1_COLUMNS)}
    cells = cells.sort_values(
        ["dense", "architecture", "column"], key=lambda s: s.map(order) if s.name == "column" else s
    ).reset_index(drop=True)
    values = pd.concat([cells, factors], ignore_index=True)
    keep = [
        "dense",
        "model",
        "dataset",
        "architecture",
        "quantity",
        "column",
        "ours_mean",
        "ours_std",
        "n",
        "missing",
        "missing_why",
        *overlay.COLUMNS,
    ]
    fig = _table1_bars(cells, factors, request)
    return Drawn(fig, values[keep], _table1_notes(cells, factors))


def _table1_bars(cells: pd.DataFrame, factors: pd.DataFrame, request: Request):
    denses = list(dict.fromkeys(cells["dense"]))
    most = cells.groupby("dense")["architecture"].nunique().max()
    fig, axes = plotting.panels(1, len(denses), width=max(4.6, 1.9 * most + 1.2), height=5.0)
    width = 0.8 / cells["column"].nunique()
    for ax, dense in zip(axes[0], denses):
        panel = cells[cells["dense"] == dense]
        archs = list(dict.fromkeys(panel["architecture"]))
        shown = []  # every plotted bar end, ours (95 % interval) and published (± std), to zoom the y axis on
        columns = [c for c in TABLE1_COLUMNS if c in set(cells["column"])]  # only columns the suite ran
        for j, column in enumerate(columns):
            bars = panel[panel["column"] == column].set_index("architecture").reindex(archs)
            x = np.arange(len(archs)) + (j - (len(columns) - 1) / 2) * width
            missing = ", ".join(w for w in bars["missing_why"].fillna("") if w)
            ax.bar(
                x,
                bars["ours_mean"],
                width * 0.92,
                yerr=plotting.interval(bars, "ours_mean"),
                capsize=2,
                color=plotting.color(TABLE1_COLUMNS.index(column)),
                error_kw={"linewidth": 0.8},
                label=COLUMN_LABEL[column] + missing_note(int(bars["missing"].fillna(0).sum()), missing),
            )
            shown += [bars["ci_low"].fillna(bars["ours_mean"]), bars["ci_high"].fillna(bars["ours_mean"])]
            for xi in x[~np.isfinite(bars["ours_mean"].to_numpy(dtype=float))]:
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
            published, spread = bars["published_mean"], bars["published_std"].fillna(0)
            if published.notna().any():
                labelled = PUBLISHED_LABEL in ax.get_legend_handles_labels()[1]
                # beside our bar's own error bar, so the two never hide each other
                ax.errorbar(
                    x + 0.28 * width,
                    published,
                    yerr=spread,
                    color="black",
                    label=None if labelled else PUBLISHED_LABEL,
                    **{**plotting.PUBLISHED_LINE, "linestyle": "none"},
                )
                shown += [published - spread, published + spread]
        plotting.zoom_accuracy(ax, shown, min_span=0.5)
        ax.set_xticks(np.arange(len(archs)), [_arch_tick(dense, a, factors) for a in archs], fontsize=7)
        ax.set_title(f"{labels.network(panel.iloc[0])} ({dense})", fontsize=plotting.FONT["title"])
        ax.set_xlabel("pruned architecture (Scratch-B budget F_dense/F_pruned − 1)", fontsize=7)
        ax.set_ylabel(request.metric_label)
        plotting.legend_below(ax)
    return fig


def _arch_tick(dense: str, arch: str, factors: pd.DataFrame) -> str:
    row = factors[(factors["dense"] == dense) & (factors["architecture"] == arch)]
    if row.empty or not np.isfinite(row["ours_mean"].iloc[0]):
        return arch
    text = f"{arch}\nF−1 = {row['ours_mean'].iloc[0]:.3f}"
    pub = row["published_mean"].iloc[0]
    return text + (f"\n(published {pub:.3f})" if np.isfinite(pub) else "")


def _table1_notes(cells: pd.DataFrame, factors: pd.DataFrame) -> list[str]:
    notes = []
    for _, c in pd.concat([cells, factors]).iterrows():
        if not np.isfinite(c["published_mean"]):
            continue
        what = COLUMN_LABEL[c["column"]] if c["quantity"] == "test_acc" else "Scratch-B budget F_d/F_p − 1"
        pub_std = f" ± {c['published_std']:.2f}" if np.isfinite(c["published_std"]) else ""
        notes.append(
            f"{c['model']}-{c['architecture']} {what}: ours {c['ours_mean']:.3f} ± {c['ours_std']:.3f} "
            f"(n={c['n']}) vs published {c['published_mean']:.3f}{pub_std} "
            f"[{c['published_source'].split(' (')[0]}]: difference {c['difference']:+.3f}"
        )
    if not notes:
        notes.append(
            "No verified published value matches these networks and datasets (Table 1 lists ResNet-56/110 "
            "on cifar10 and ResNet-34 on imagenet; the fine-tuned column and VGG-16 are unverified and "
            "never drawn)."
        )
    else:
        notes.append("The fine-tuned column of Table 1 is unverified (docs/methods.md §0 tag R) and is not drawn.")
    return notes


# --- weight-level pruning ------------------------------------------------------------------------------------


def _x(rows: pd.DataFrame, stats: pd.DataFrame, keys: list[str], x: str) -> pd.Series:
    """The x of each point of ``stats`` (grouped by ``keys``, which include target_sparsity): the target, or
    the mean achieved sparsity (``x: sparsity``), falling back to the target where every run is missing."""
    if x == "target_sparsity":
        return stats["target_sparsity"]
    return summarise(rows, keys, "sparsity")["mean"].fillna(stats["target_sparsity"])


def weight_level(rows: pd.DataFrame, request: Request) -> Drawn:
    metric, x = request.metric, request.options["x"]
    branch = rows[(rows["stage"] == "branch") & rows["branch_type"].isin(request.options["branch_types"])]
    request.require(branch, f"branch rows of type {', '.join(request.options['branch_types'])}")
    keys = ["dense", "pruning", "branch", "branch_type", "target_sparsity"]
    stats = summarise(branch, keys, metric)
    stats["x"] = _x(branch, stats, keys, x)
    denses = list(dict.fromkeys(sorted(branch["dense"])))
    zoom = any(plotting.top_band(p["mean"], ZOOM_SPAN) for _, p in stats.groupby("dense"))
    fig, axes, zooms = plotting.panels_with_zoom(1, len(denses), zoom, width=6.6 if not zoom else 4.8)
    several_prunings = branch["pruning"].nunique() > 1
    prunings, branches = labels.pruning_settings(branch), labels.branches(branch)
    series = list(dict.fromkeys(zip(stats["pruning"], stats["branch"])))  # one style per series in every panel
    for c, dense in enumerate(denses):
        panel = stats[stats["dense"] == dense]
        targets = [axes[0, c]] + ([zooms[0, c]] if zoom else [])
        for ax in targets:
            _dense_reference(ax, rows, dense, metric)
            for (pruning, name), line in panel.groupby(["pruning", "branch"]):
                label = branches[name] + (f" · {prunings[pruning]}" if several_prunings else "")
                label += missing_note(int(line["missing"].sum()), ", ".join(w for w in line["missing_why"] if w))
                plotting.errorline(ax, 100 * line["x"], line, label, **plotting.style(series.index((pruning, name))))
            ax.set_title(labels.dense_title(rows, dense), fontsize=plotting.FONT["title"])
            ax.set_xlabel(
                "prune ratio (% of prunable weights)"
                if x == "target_sparsity"
                else "achieved sparsity (% of prunable weights)"
            )
            ax.set_ylabel(request.metric_label)
            plotting.percent_axis(ax)
        zoomed = zoom and plotting.zoom_on(targets[0], targets[1], panel["mean"], ZOOM_SPAN, None)
        plotting.legend_outside(targets[-1] if zoomed else targets[0])
    values = stats.rename(columns={"mean": "ours_mean", "std": "ours_std"})
    return Drawn(
        fig,
        values,
        [
            "No verified published numbers for weight-level pruning (the paper's prune ratios "
            "and accuracies are unverified, docs/methods.md §4.1); compare the trend: "
            "Scratch-B ≈ fine-tuned at moderate ratios, fine-tuning ahead at high ratios on "
            "some models."
        ],
    )


def _dense_reference(ax, rows: pd.DataFrame, dense: str, metric: str, extra: pd.Series | None = None) -> None:
    mask = (rows["stage"] == "dense") & (rows["dense"] == dense)
    if extra is not None:
        mask &= extra
    d = summarise(rows[mask].assign(_all=0), ["_all"], metric)
    for _, s in d.iterrows():
        plotting.dense_band(
            ax, s, f"unpruned ({s['mean']:.2f}%, n = {s['n']})" + missing_note(s["missing"], s["missing_why"])
        )


# --- lottery tickets -----------------------------------------------------------------------------------------

TICKET = ("lottery", "rewind_weights")
INITS = ["winning ticket", "random re-init"]


def lottery(rows: pd.DataFrame, request: Request) -> Drawn:
    metric, x = request.metric, request.options["x"]
    branch = rows[(rows["stage"] == "branch") & rows["branch_type"].isin([*TICKET, "reinit"])]
    request.require(branch, "lottery / rewind_weights / reinit branch rows")
    branch = branch.assign(init=np.where(branch["branch_type"].isin(TICKET), *INITS))
    keys = ["model", "dataset", "dense_lr", "init", "branch", "pruning", "level", "target_sparsity"]
    stats = summarise(branch, keys, metric)
    stats["x"] = _x(branch, stats, keys, x)
    networks = list(dict.fromkeys(zip(stats["model"], stats["dataset"])))
    lrs = sorted(stats["dense_lr"].unique(), reverse=True)
    prunings, branches = labels.pruning_settings(branch), labels.branches(branch)
    several_prunings = branch["pruning"].nunique() > 1
    series = {init: sorted(set(zip(group["branch"], group["pruning"]))) for init, group in stats.groupby("init")}
    cells = {
        (r, c): stats[(stats["model"] == model) & (stats["dataset"] == dataset) & (stats["dense_lr"] == lr)]
        for r, (model, dataset) in enumerate(networks)
        for c, lr in enumerate(lrs)
    }
    zoom = any(plotting.top_band(p["mean"], ZOOM_SPAN) for p in cells.values())
    fig, axes, zooms = plotting.panels_with_zoom(len(networks), len(lrs), zoom, width=6.6 if not zoom else 4.8)
    for r, (model, dataset) in enumerate(networks):
        for c, lr in enumerate(lrs):
            panel = cells[r, c]
            targets = [axes[r, c]] + ([zooms[r, c]] if zoom else [])
            same = (rows["model"] == model) & (rows["dataset"] == dataset) & (rows["dense_lr"] == lr)
            denses = rows[same & (rows["stage"] == "dense")]["dense"].unique()
            for ax in targets:
                for dense in denses:
                    _dense_reference(ax, rows, dense, metric)
                for (init, name, pruning), line in panel.groupby(["init", "branch", "pruning"], sort=True):
                    line = line.sort_values("x")
                    label = branches[name] + (" (winning ticket)" if init == "winning ticket" else "")
                    label += (f" · {prunings[pruning]}" if several_prunings else "") + missing_note(
                        int(line["missing"].sum()), ", ".join(w for w in line["missing_why"] if w)
                    )
                    members = series[init]  # colour says the init; marker and dash tell its branches apart
                    plotting.errorline(
                        ax,
                        100 * line["x"],
                        line,
                        label,
                        **plotting.grouped_style(INITS.index(init), members.index((name, pruning)), len(members)),
                    )
                ax.set_title(f"{model} on {dataset}, dense {labels.lr(lr)}", fontsize=plotting.FONT["title"])
                ax.set_xlabel("sparsity (% of prunable weights)" if x == "sparsity" else "target sparsity (%)")
                ax.set_ylabel(request.metric_label)
                plotting.percent_axis(ax)
            zoomed = zoom and plotting.zoom_on(targets[0], targets[1], panel["mean"], ZOOM_SPAN, None)
            plotting.legend_outside(targets[-1] if zoomed else targets[0])
    values = stats.rename(columns={"mean": "ours_mean", "std": "ours_std"})
    return Drawn(
        fig,
        values,
        [
            "No verified published numbers (the LR 0.01 variant and the run count are "
            "unverified, docs/methods.md §4.1); the claim to check: at the large LR (0.1) the "
            "winning ticket is no better than random re-initialisation."
        ],
    )


X_OPTION = {
    "enum": ["target_sparsity", "sparsity"],
    "default": "target_sparsity",
    "description": "x axis: the configured prune ratio (target_sparsity) or the achieved sparsity (mean over seeds)",
}

FIGURE_TYPES = [
    FigureType(
        "rethinking_table1",
        LIU,
        table1,
        closed(
            {
                "architectures": {
                    "type": "object",
                    "additionalProperties": {"type": "string"},
                    "default": {},
                    "description": "pruning config name → architecture label (e.g. A, B); Table 1 is "
                    "matched on (model, dataset, label); unmapped names label themselves",
                },
                "columns": {
                    "type": "object",
                    "additionalProperties": {"enum": TABLE1_COLUMNS[1:]},
                    "default": {},
                    "description": "branch config name → Table 1 column (finetune, scratch_e, scratch_b); "
                    "default: the branch type",
                },
                "published": overlay.PUBLISHED,
            }
        ),
        "Reproduces **Table 1 of Liu et al. 2019** (L1-norm filter pruning on CIFAR-10): for each network and "
        "pruned architecture, the accuracy ({metric}) of the unpruned net, of fine-tuning the pruned net, and of "
        "training the pruned architecture from scratch for the same epochs (Scratch-E) or the same FLOPs budget "
        "(Scratch-B); bars are mean and 95 % t-interval over seeds of experiment(s) {experiments}. Architecture "
        "labels (pruning config → label; unmapped configs label themselves): {architectures}. Below each group: "
        "our Scratch-B budget F_dense/F_pruned − 1 from the FLOPs counter, and the published one.\n\n"
        'Published values (hollow diamonds, "published") are Table 1 as transcribed by Renda et al. '
        "(docs/methods.md §4.1, tag V:S4), matched on model, architecture label and, unless the overlay mode is "
        "any_dataset, dataset (overlay mode: {published}); the fine-tuned column and the VGG-16 row are "
        "unverified and never drawn. The claim under test: Scratch-B matches or beats fine-tuning.",
        title="Liu et al. 2019, Table 1: fine-tuned vs trained from scratch",
    ),
    FigureType(
        "rethinking_weight_level",
        LIU,
        weight_level,
        closed(
            {
                "branch_types": subset(
                    labels.BRANCH_TYPE, ["finetune", "scratch_e", "scratch_b"], "branch types drawn as lines"
                ),
                "x": X_OPTION,
            }
        ),
        "Reproduces **Liu et al. 2019, unstructured (weight-level) pruning**: accuracy ({metric}) against {x} "
        "(target_sparsity: the prune ratio; sparsity: the achieved sparsity) for {branch_types}, mean and 95 % "
        "t-interval over seeds of experiment(s) {experiments}, one panel per network; the dotted line and band "
        "are the unpruned network. The paper's numbers for this experiment are unverified, so none are drawn; "
        "the trend to compare: Scratch-B close to fine-tuning at moderate ratios, fine-tuning ahead at high "
        "ratios on some models.",
        title="Liu et al. 2019: unstructured (weight-level) pruning",
    ),
    FigureType(
        "rethinking_lottery",
        LIU,
        lottery,
        closed({"x": X_OPTION}),
        "Reproduces **Liu et al. 2019, lottery-ticket comparison**: accuracy ({metric}) after iterative "
        "magnitude pruning with the winning-ticket initialisation (branches of type lottery / "
        "rewind_weights) against a random re-initialisation of the same sparsity (reinit), mean and 95 % "
        "t-interval over seeds of experiment(s) {experiments}, one panel per (network, dense learning "
        "rate), x axis {x}. The paper's claim: at the optimal large LR (0.1) the ticket is no better than "
        "random init; the ticket helps only at a small LR (0.01). No published numbers were verified for "
        "this experiment.",
        title="Liu et al. 2019: lottery-ticket comparison",
    ),
]
