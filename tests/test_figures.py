"""Paper figures on synthetic tables: files written, plotted values (ours, published, difference) exact, and
every bad option or missing input reported in one line."""

from __future__ import annotations

import json
import math
import re

import numpy as np
import pandas as pd
import pytest
import synthetic_tables as synthetic

from prunelab.analysis import labels
from prunelab.analysis.figures import check_figures, draw, outputs
from prunelab.analysis.lossmodel import rank_correlation
from prunelab.analysis.registry import figure_types
from prunelab.analysis.stats import ERROR_BAR, summarise
from prunelab.cli.commands import main
from prunelab.errors import ConfigError
from prunelab.replication import references

CASES = {
    "accuracy_vs_sparsity": (synthetic.demo_like, {}),
    "rethinking_table1": (synthetic.rethinking_table1, {"architectures": {"l1_a": "A", "l1_b": "B"}}),
    "rethinking_weight_level": (synthetic.rethinking_weight_level, {}),
    "rethinking_lottery": (synthetic.rethinking_lottery, {}),
    "lossmodel_locality": (synthetic.lossmodel, {}),
    "lossmodel_loss_vs_accuracy": (synthetic.lossmodel, {"loss": "pruned_test_loss"}),
    "sipp_accuracy_vs_retained": (synthetic.sipp, {"retained": "all"}),
    "dyniso_jsv": (synthetic.dyniso_jsv, {}),
    "dyniso_finetune_lr": (synthetic.dyniso_finetune, {}),
}


def render(tmp_path, kind, table, options=None, name="fig", **spec):
    path = tmp_path / f"{name}_table.csv"
    table.to_csv(path, index=False)
    draw(
        {"type": kind, "experiments": ["x"], "options": options or {}, **spec},
        [path],
        tmp_path / f"{name}.png",
        tmp_path,
        name,
    )
    return pd.read_csv(tmp_path / f"{name}.csv")


def ok_values(table: pd.DataFrame, mask, column="test_acc") -> np.ndarray:
    rows = table[mask & (table["status"] == "ok")]
    return rows[column].to_numpy(dtype=float)


def test_every_figure_type_has_a_case():
    assert set(CASES) == set(figure_types())


LONG_TITLE = (
    "A figure title long enough that at this size it cannot fit on one line of any of the figures, so "
    "it has to wrap instead of running off both edges, which is what a long title did before: some "
    "suites name the network, the data, the schedule and the branch in it"
)


@pytest.fixture(scope="module")
def drawn(tmp_path_factory):
    """``kind`` → (its Drawn, its folder): each figure type of CASES drawn once, through ``draw``, per module."""
    cache = {}

    def get(kind):
        if kind not in cache:
            builder, options = CASES[kind]
            folder = tmp_path_factory.mktemp(kind)
            builder().to_csv(folder / "table.csv", index=False)
            spec = {"type": kind, "experiments": ["x"], "options": options, "title": LONG_TITLE}
            cache[kind] = draw(spec, [folder / "table.csv"], folder / "fig.png", folder, "fig"), folder
        return cache[kind]

    return get


@pytest.mark.parametrize("kind", sorted(CASES))
def test_each_type_writes_png_pdf_csv_summary_and_provenance(drawn, kind):
    folder = drawn(kind)[1]
    values = pd.read_csv(folder / "fig.csv")
    for role, path in outputs(folder / "fig.png").items():
        assert path.stat().st_size > 0, role
    assert outputs(folder / "fig.png")["png"].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert outputs(folder / "fig.png")["pdf"].read_bytes()[:5] == b"%PDF-"
    assert len(values) and {"ours_mean", "ours_std", "n", "missing"} <= set(values.columns)
    record = json.loads(outputs(folder / "fig.png")["provenance"].read_text())
    assert {"fig.png", "fig.pdf", "fig.csv", "fig.summary.rst"} <= set(record["outputs"])
    assert record["figure_spec"]["type"] == kind


# --- readability: what a reader needs to tell the series apart without the CSV ---------------------------------


def _laid_out(fig):
    """The renderer of ``fig`` after a fresh layout (``draw`` closed the figure: give it a canvas again)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    FigureCanvasAgg(fig).draw()
    return fig.canvas.get_renderer()


def _legends(fig) -> list:
    return [ax.get_legend() for ax in fig.axes if ax.get_legend()] + list(fig.legends)


def _drawn_inside(ax, renderer):
    """Display-coordinate points of every line and error bar of ``ax``, and the boxes of its bars and bands,
    as far as they are drawn (clipped to the axes)."""
    from matplotlib.collections import LineCollection
    from matplotlib.transforms import Bbox

    box = ax.get_window_extent(renderer)
    points = [line.get_transform().transform(line.get_xydata()) for line in ax.lines]
    points += [
        collection.get_transform().transform(segment)
        for collection in ax.collections
        if isinstance(collection, LineCollection)
        for segment in collection.get_segments()
        if len(segment)
    ]
    points = np.vstack(points) if points else np.empty((0, 2))
    points = points[np.isfinite(points).all(axis=1)]
    points = points[
        (points[:, 0] >= box.x0) & (points[:, 0] <= box.x1) & (points[:, 1] >= box.y0) & (points[:, 1] <= box.y1)
    ]
    boxes = [Bbox.intersection(patch.get_window_extent(renderer), box) for patch in ax.patches]
    return points, [b for b in boxes if b is not None and b.width > 0 and b.height > 0]


@pytest.mark.parametrize("kind", sorted(CASES))
def test_legends_never_cover_a_plotted_point(drawn, kind):
    fig = drawn(kind)[0].figure
    renderer = _laid_out(fig)
    legends = _legends(fig)
    assert legends
    for legend in legends:
        frame = legend.get_window_extent(renderer)
        for ax in fig.axes:
            points, boxes = _drawn_inside(ax, renderer)
            inside = (
                (points[:, 0] > frame.x0)
                & (points[:, 0] < frame.x1)
                & (points[:, 1] > frame.y0)
                & (points[:, 1] < frame.y1)
            )
            assert not inside.any(), f"legend covers {inside.sum()} point(s) of {ax.get_title()!r}"
            assert not any(frame.overlaps(b) for b in boxes), f"legend covers a bar of {ax.get_title()!r}"


def _look(handle) -> tuple:
    from matplotlib.colors import to_hex
    from matplotlib.container import BarContainer, ErrorbarContainer

    if isinstance(handle, BarContainer):
        bar = handle.patches[0]
        return "bar", to_hex(bar.get_facecolor(), keep_alpha=True), bar.get_hatch()
    line = handle.lines[0] if isinstance(handle, ErrorbarContainer) else handle
    return "line", to_hex(line.get_color()), str(line.get_marker()), str(line.get_linestyle())


@pytest.mark.parametrize("kind", sorted(CASES))
def test_no_two_legend_entries_look_alike_and_a_label_looks_the_same_everywhere(drawn, kind):
    fig = drawn(kind)[0].figure
    looks: dict[str, tuple] = {}
    for ax in fig.axes:
        for handle, text in zip(*ax.get_legend_handles_labels()):
            assert looks.setdefault(text, _look(handle)) == _look(handle), f"{text!r} is drawn two ways"
    for legend in _legends(fig):
        entries = [looks[t.get_text()] for t in legend.get_texts()]
        assert len(set(entries)) == len(entries), [t.get_text() for t in legend.get_texts()]


def test_style_schemes_never_repeat_a_triple():
    from prunelab.analysis.plotting import grouped_style, style

    triples = [tuple(style(i).values()) for i in range(660)]
    assert len(set(triples)) == 660
    pairs = [(look["color"], look["marker"]) for look in map(style, range(165))]
    assert len(set(pairs)) == 165  # every series of a figure has its own (colour, marker), dash aside
    assert len({colour for colour, _ in pairs[:15]}) == 15  # distinct colours first: the demo's 11 methods
    assert style(15)["color"] == style(0)["color"] and style(15)["marker"] != style(0)["marker"]
    for members in (1, 2, 5, 11):
        grouped = [tuple(grouped_style(g, m, members).values()) for g in range(30) for m in range(members)]
        assert len(set(grouped)) == len(grouped)
    assert grouped_style(0, 0, 2)["marker"] != grouped_style(1, 0, 2)["marker"]  # groups differ beyond colour


RAW_NAMES = [
    name
    for name in [*labels.METHOD, *labels.BRANCH_TYPE, *synthetic.DEMO_METHODS, *synthetic.DEMO_BRANCHES]
    if "_" in name
]


@pytest.mark.parametrize("kind", sorted(CASES))
def test_legends_name_methods_and_branches_from_the_label_table(drawn, kind):
    fig = drawn(kind)[0].figure
    texts = [t.get_text() for legend in _legends(fig) for t in legend.get_texts()]
    assert texts
    # the generic figure names branches as the config does (its caption says what each trains)
    raw = [name for name in RAW_NAMES if not (kind == "accuracy_vs_sparsity" and name in synthetic.DEMO_BRANCHES)]
    for text in texts:
        assert not [name for name in raw if re.search(rf"\b{name}\b", text)], text


def test_generic_figure_on_demo_names_methods_by_label_and_branches_by_config_name(drawn):
    result = drawn("accuracy_vs_sparsity")[0]
    texts = {t.get_text() for t in _legends(result.figure)[0].get_texts()}
    assert "magnitude, layer-wise → finetune" in texts and "random → finetune" in texts
    # the same setting in two experiments: the experiment's name tells them apart
    assert {"methods: magnitude, global → finetune", "branches: magnitude, global → finetune"} <= texts
    assert "magnitude, global → lr_rewind" in texts and "magnitude, global → scratch_b" in texts
    assert "magnitude, global → lottery" in texts and "iterative magnitude, global → rewind" in texts
    assert not any("⊙" in text for text in texts)  # the notation is in the caption, not in the legend
    assert "lottery = trained from θ0 ⊙ m" in result.remark and "rewind = trained from θk ⊙ m" in result.remark


def test_generic_figure_fits_1400_px_with_its_legend_under_the_panels(drawn):
    from prunelab.analysis.plotting import LEGEND_ROW

    fig = drawn("accuracy_vs_sparsity")[0].figure
    renderer = _laid_out(fig)
    assert fig.get_figwidth() * 150 <= 1400  # the saved dpi
    legend = _legends(fig)[0].get_window_extent(renderer)
    panels = [ax for ax in fig.axes if ax.get_visible() and ax.get_label() != LEGEND_ROW]
    assert legend.y1 <= min(ax.get_window_extent(renderer).y0 for ax in panels)
    assert legend.x1 <= fig.get_figwidth() * fig.dpi


@pytest.mark.parametrize("kind", sorted(CASES))
def test_titles_wrap_to_the_width_they_have(drawn, kind):
    fig = drawn(kind)[0].figure
    renderer = _laid_out(fig)
    title = fig._suptitle
    assert title.get_text().replace("\n", " ") == LONG_TITLE and "\n" in title.get_text()
    assert title.get_window_extent(renderer).x0 >= 0
    assert title.get_window_extent(renderer).x1 <= fig.get_figwidth() * fig.dpi
    note = fig._supxlabel  # italic: measured upright, its lines ran past the figure's edges
    assert (
        0 <= note.get_window_extent(renderer).x0 and note.get_window_extent(renderer).x1 <= fig.get_figwidth() * fig.dpi
    )
    for ax in fig.axes:
        if ax.get_visible() and ax.get_title():
            assert ax.title.get_window_extent(renderer).width <= ax.get_window_extent(renderer).width + 1


@pytest.mark.parametrize("kind", sorted(CASES))
def test_figure_states_n_and_what_its_error_bars_are(drawn, kind):
    result, folder = drawn(kind)
    note = result.figure._supxlabel.get_text().replace("\n", " ")
    n = pd.read_csv(folder / "fig.csv")["n"]
    n = n[n > 0]
    seeds = f"n = {n.min()} seeds" if n.min() == n.max() else f"n = {n.min()}–{n.max()} seeds"
    assert seeds in note and ERROR_BAR in note


def test_caption_counts_seeds_and_names_published_spread():
    from prunelab.analysis.plotting import caption

    assert caption(pd.DataFrame({"n": [3, 3]})) == f"Points: mean over n = 3 seeds; error bars and bands: {ERROR_BAR}."
    text = caption(pd.DataFrame({"n": [1, 3, 0], "published_mean": [np.nan, 93.1, np.nan]}))
    assert text.startswith("Points: mean over n = 1–3 seeds (fewer where runs are missing)")
    assert "(none where n = 1)" in text and text.endswith("Published values: mean ± std as reported.")


def test_top_band_zooms_on_the_upper_half_and_only_when_it_helps():
    from prunelab.analysis.plotting import top_band

    means = pd.Series([97.0, 97.2, 97.4, 60.0, 10.0])
    low, high = top_band(means, min_span=0.5)
    # top 97.4, median 97.0: span max(0.4, 0.5); window 97.4 − 1.25 · 0.5 … 97.4 + 0.25 · 0.5
    assert (low, high) == pytest.approx((96.775, 97.525))
    assert top_band(pd.Series([97.0, 96.8, 96.9]), min_span=0.5) is None


def test_generic_figure_adds_a_zoomed_panel_where_the_points_spread(drawn):
    fig = drawn("accuracy_vs_sparsity")[0].figure
    full, zoom = [ax for ax in fig.axes if ax.get_visible() and ax.get_label() != "legend row"]
    assert zoom.get_ylim()[1] - zoom.get_ylim()[0] < 0.2 * (full.get_ylim()[1] - full.get_ylim()[0])
    assert "zoom" in zoom.get_title()


def test_a_dense_run_shared_by_two_experiments_counts_once(tmp_path):
    table = synthetic.demo_like()
    dense = table["stage"] == "dense"
    table.loc[dense, "run"] = [f"dense{seed}" for seed in table.loc[dense, "seed"]]
    twice = pd.concat([table, table[dense].assign(experiment="branches")], ignore_index=True)
    twice.to_csv(tmp_path / "t.csv", index=False)
    result = draw(
        {"type": "accuracy_vs_sparsity", "experiments": ["x"]}, [tmp_path / "t.csv"], tmp_path / "f.png", tmp_path, "f"
    )
    texts = [t.get_text() for t in _legends(result.figure)[0].get_texts()]
    mean = table.loc[dense, "test_acc"].mean()
    assert f"dense ({mean:.2f}%, n = 3)" in texts


def test_labels_add_scope_then_config_name_only_where_needed():
    rows = pd.DataFrame(
        {
            "pruning": ["a", "b", "c", "d", "d"],
            "method": ["magnitude", "magnitude", "obd", "lm", "lm"],
            "scope": ["global", "layerwise", None, None, None],
        }
    )
    assert labels.pruning_settings(rows) == {
        "a": "magnitude, global",
        "b": "magnitude, layer-wise",
        "c": "OBD",
        "d": "LM",
    }
    twins = pd.DataFrame(
        {"branch": ["ft_short", "ft_long", "lr_rewind"], "branch_type": ["finetune", "finetune", "rewind_lr"]}
    )
    assert labels.branches(twins) == {
        "ft_long": "fine-tuned [ft_long]",
        "ft_short": "fine-tuned [ft_short]",
        "lr_rewind": "LR rewinding",
    }


def test_every_pruning_method_and_branch_type_has_a_label():
    from prunelab.pruning import methods

    assert set(labels.METHOD) == set(methods())
    assert set(labels.BRANCH_TYPE) == {
        "finetune",
        "rewind_weights",
        "rewind_lr",
        "lottery",
        "reinit",
        "scratch_e",
        "scratch_b",
    }


def test_table1_means_stds_published_and_difference(tmp_path):
    table = synthetic.rethinking_table1()
    values = render(tmp_path, "rethinking_table1", table, CASES["rethinking_table1"][1])
    acc = values[values["quantity"] == "test_acc"].set_index(["dense", "architecture", "column"])
    ours = ok_values(table, (table["dense"] == "r56") & (table["pruning"] == "l1_a") & (table["branch"] == "se"))
    cell = acc.loc[("r56", "A", "scratch_e")]
    assert cell["ours_mean"] == pytest.approx(ours.mean(), abs=1e-4)
    assert cell["ours_std"] == pytest.approx(ours.std(ddof=1), abs=1e-5)
    assert (cell["n"], cell["missing"]) == (3, 0)
    assert (cell["published_mean"], cell["published_std"]) == (92.96, 0.26)
    assert cell["difference"] == pytest.approx(cell["ours_mean"] - 92.96, abs=1e-4)
    assert cell["published_source"].startswith("V:S4")
    # the diverged Scratch-B run is counted as missing, not averaged
    diverged = acc.loc[("r110", "B", "scratch_b")]
    ours = ok_values(table, (table["dense"] == "r110") & (table["pruning"] == "l1_b") & (table["branch"] == "sb"))
    assert (diverged["n"], diverged["missing"], diverged["missing_why"]) == (2, 1, "diverged ×1")
    assert diverged["ours_mean"] == pytest.approx(ours.mean(), abs=1e-4)
    unpruned = acc.loc[("r56", "B", "unpruned")]
    assert unpruned["ours_mean"] == pytest.approx(
        ok_values(table, (table["dense"] == "r56") & (table["stage"] == "dense")).mean(), abs=1e-4
    )
    assert unpruned["published_mean"] == 93.14
    # unverified (tag R) values are never overlaid: the fine-tuned column and the VGG-16 row
    assert acc.xs("finetune", level="column")["published_mean"].isna().all()
    assert acc.loc["vgg"]["published_mean"].isna().all()
    factor = values[
        (values["quantity"] == "scratch_b_epoch_factor") & (values["dense"] == "r56") & (values["architecture"] == "B")
    ].iloc[0]
    assert factor["ours_mean"] == pytest.approx(0.3791, abs=1e-4)
    assert factor["published_mean"] == pytest.approx(0.3791088785)


def test_table1_published_matching_modes(tmp_path):
    table = synthetic.rethinking_table1()
    table["dataset"] = "digits"  # a proxy run: same networks, other data
    options = dict(CASES["rethinking_table1"][1])
    matching = render(tmp_path, "rethinking_table1", table, options, name="matching")
    assert matching["published_mean"].isna().all()
    anywhere = render(tmp_path, "rethinking_table1", table, {**options, "published": "any_dataset"}, name="any")
    shown = anywhere.dropna(subset=["published_mean"])
    # 2 nets × 2 architectures × (unpruned, Scratch-E, Scratch-B), plus 4 Scratch-B epoch factors
    assert len(shown) == 16 and set(shown["published_dataset"]) == {"cifar10"}
    off = render(
        tmp_path, "rethinking_table1", synthetic.rethinking_table1(), {**options, "published": "none"}, name="none"
    )
    assert off["published_mean"].isna().all() and "difference" in off.columns


def test_table1_refuses_two_branches_in_one_column(tmp_path):
    table = synthetic.rethinking_table1()
    extra = table[table["branch"] == "ft"].assign(branch="ft_long")
    with pytest.raises(
        ConfigError,
        match=r"column finetune of r110 architecture A comes from several branch "
        r"values \(ft, ft_long\)",
    ):
        render(tmp_path, "rethinking_table1", pd.concat([table, extra]), CASES["rethinking_table1"][1])


def test_jsv_against_wang_published_runs(tmp_path):
    table = synthetic.dyniso_jsv()
    values = render(tmp_path, "dyniso_jsv", table).set_index(["dense", "target_sparsity"])
    point = values.loc[("mlp7_relu", 0.1)]
    assert point["published_mean"] == pytest.approx((1.6664 + 1.6668) / 2)
    assert point["published_std"] == pytest.approx(0.0002)  # population std of the two runs, as the authors plot
    ours = ok_values(table, (table["dense"] == "mlp7_relu") & np.isclose(table["target_sparsity"], 0.1), "jsv_mean")
    assert point["ours_mean"] == pytest.approx(ours.mean(), rel=1e-5)
    assert point["ours_std"] == pytest.approx(ours.std(ddof=1), rel=1e-4)
    assert point["relative_difference"] == pytest.approx(point["ours_mean"] / point["published_mean"] - 1, rel=1e-4)
    skipped = values.loc[("lenet5_relu", 0.5)]
    assert (skipped["n"], skipped["missing"], skipped["missing_why"]) == (2, 1, "skipped ×1")
    assert values.loc[("mlp7_linear", 0.9)]["published_std"] == 0  # run1 = run2 for MLP-7-Linear
    assert values["published_mean"].notna().all()


def test_jsv_on_proxy_data_overlays_only_when_asked(tmp_path):
    table = synthetic.dyniso_jsv(dataset="digits")
    assert render(tmp_path, "dyniso_jsv", table, name="m")["published_mean"].isna().all()
    shown = render(tmp_path, "dyniso_jsv", table, {"published": "any_dataset"}, name="a")
    assert shown["published_mean"].notna().all() and set(shown["published_dataset"]) == {"mnist"}


def test_locality_places_lambda_zero_a_decade_left_and_flags_the_diverged_run(tmp_path):
    table = synthetic.lossmodel()
    values = render(tmp_path, "lossmodel_locality", table)
    swept = values[values["lambda"].notna()]
    assert (swept[swept["lambda"] == 0]["x_plotted"] == 1e-6).all()
    assert (swept[swept["lambda"] > 0]["x_plotted"] == swept[swept["lambda"] > 0]["lambda"]).all()
    flat = values[values["lambda"].isna()]
    assert set(flat["method"]) == {"magnitude"}
    broken = swept[
        (swept["dense"] == "vgg11") & (swept["method"] == "qm") & (swept["steps"] == 1) & (swept["lambda"] == 100)
    ].iloc[0]
    assert (broken["n"], broken["missing"]) == (1, 1)
    mask = (table["dense"] == "vgg11") & (table["pruning"] == "qm_T1_l100") & (table["stage"] == "branch")
    assert broken["ours_mean"] == pytest.approx(ok_values(table, mask).mean(), abs=1e-4)
    pruned = render(tmp_path, "lossmodel_locality", table, {"stage": "pruned"}, name="pruned")
    assert pruned["n"].sum() == (table["stage"] == "pruned").sum()


@pytest.mark.parametrize("kind", ["lossmodel_locality", "lossmodel_loss_vs_accuracy"])
def test_a_run_two_pooled_experiments_list_counts_once(tmp_path, kind):
    table = synthetic.lossmodel().assign(run=lambda t: [f"run{i}" for i in range(len(t))])
    alone = render(tmp_path, kind, table, name="alone")
    twice = render(tmp_path, kind, pd.concat([table, table.assign(experiment="y")]), name="twice")
    assert twice["n"].tolist() == alone["n"].tolist() and alone["n"].sum() > 0


def test_loss_vs_accuracy_pairs_each_setting_loss_and_accuracy(tmp_path):
    table = synthetic.lossmodel()
    values = render(
        tmp_path, "lossmodel_loss_vs_accuracy", table, {"loss": "pruned_train_loss"}, metric="best_test_acc"
    )
    point = values[(values["dense"] == "mlp") & (values["pruning"] == "lm_T14_l0.001")].iloc[0]
    mask = (table["dense"] == "mlp") & (table["pruning"] == "lm_T14_l0.001") & (table["stage"] == "branch")
    assert point["pruned_train_loss_mean"] == pytest.approx(
        ok_values(table, mask, "pruned_train_loss").mean(), rel=1e-5
    )
    assert point["ours_mean"] == pytest.approx(ok_values(table, mask, "best_test_acc").mean(), abs=1e-4)
    assert point["lambda"] == 0.001


def test_rank_correlation_is_spearman():
    assert rank_correlation(pd.Series([1, 2, 3, 4]), pd.Series([10, 9, 5, 1])) == pytest.approx(-1)
    # ties get average ranks: x ranks (1, 2.5, 2.5, 4), y ranks (1, 2, 3, 4) → Pearson of the ranks
    x, y = np.array([1, 2.5, 2.5, 4]), np.array([1, 2, 3, 4])
    expected = np.corrcoef(x, y)[0, 1]
    assert rank_correlation(pd.Series([0.1, 0.5, 0.5, 0.9]), pd.Series([1, 2, 3, 4])) == pytest.approx(expected)
    assert np.isnan(rank_correlation(pd.Series([1.0, np.nan]), pd.Series([2.0, 3.0])))


def test_sipp_retained_parameters_both_ways(tmp_path):
    table = synthetic.sipp()
    prunable = render(tmp_path, "sipp_accuracy_vs_retained", table, name="p")
    assert np.allclose(prunable["retained_pct"], 100 * (1 - prunable["target_sparsity"]), atol=1e-6)
    everything = render(tmp_path, "sipp_accuracy_vs_retained", table, {"retained": "all"}, name="a")
    point = everything[
        (everything["stage"] == "branch")
        & (everything["pruning"] == "snip")
        & np.isclose(everything["target_sparsity"], 0.9)
    ].iloc[0]
    assert point["retained_pct"] == pytest.approx(100 * (2.7e5 * 0.1 + 400) / 2.7e5, rel=1e-5)
    assert set(everything["stage"]) == {"pruned", "branch"}
    summary = (tmp_path / "a.summary.rst").read_text()
    assert "within 1 points of the unpruned accuracy" in summary


def test_sipp_panel_without_runs_says_so_instead_of_empty_axes():
    """A network that was only pruned (never retrained) gets a labelled blank, not an empty plot."""
    from prunelab.analysis.registry import Request
    from prunelab.analysis.sipp import accuracy_vs_retained

    table = synthetic.sipp()
    table = table[~((table["dense"] == "resnet20") & (table["stage"] == "branch"))]
    drawn = accuracy_vs_retained(
        table, Request("f", "sipp_accuracy_vs_retained", {"retained": "prunable", "tolerance": 1.0})
    )
    axes = [ax for ax in drawn.figure.axes if ax.get_visible()]
    blank = [ax for ax in axes if not ax.axison]
    # 2 networks × 2 stages, each with its zoomed twin, less the blank panel's twin
    assert len(axes) == 7 and len(blank) == 1
    assert "no 'prune + retrain' runs" in blank[0].texts[0].get_text() and "resnet20" in blank[0].get_title()
    only_pruned = table[table["stage"] != "branch"]
    drawn = accuracy_vs_retained(
        only_pruned, Request("f", "sipp_accuracy_vs_retained", {"retained": "prunable", "tolerance": 1.0})
    )
    axes = [ax for ax in drawn.figure.axes if ax.get_visible()]
    assert len(axes) == 4 and all(ax.axison for ax in axes)  # no empty column


def test_finetune_lr_bars_count_the_diverged_run(tmp_path):
    table = synthetic.dyniso_finetune()
    values = render(tmp_path, "dyniso_finetune_lr", table).set_index(["dense", "target_sparsity", "branch"])
    cell = values.loc[("mlp7_linear", 0.9, "ft_lr2")]
    assert (cell["n"], cell["missing"], cell["branch_lr"], cell["isometry"]) == (2, 1, 0.01, "none")
    mask = (table["dense"] == "mlp7_linear") & (table["target_sparsity"] == 0.9) & (table["branch"] == "ft_lr2")
    assert cell["ours_mean"] == pytest.approx(ok_values(table, mask).mean(), abs=1e-4)
    assert values.loc[("lenet5_relu", 0.8, "ft_lr3_orthp")]["isometry"] == "orthp"
    assert "published_mean" not in values.columns  # no verified published accuracies for this table


def test_lottery_and_weight_level_points(tmp_path):
    table = synthetic.rethinking_lottery()
    values = render(tmp_path, "rethinking_lottery", table, name="l")
    assert set(values["dense_lr"]) == {0.1, 0.01} and set(values["init"]) == {"winning ticket", "random re-init"}
    assert (values["n"] == 2).all() and len(values) == 2 * 2 * 6
    level = table[(table["branch"] == "reinit") & (table["dense_lr"] == 0.01) & (table["level"] == 3)]
    point = values[(values["init"] == "random re-init") & (values["dense_lr"] == 0.01) & (values["level"] == 3)]
    assert point["ours_mean"].iloc[0] == pytest.approx(level["test_acc"].mean(), abs=1e-4)
    weight = render(
        tmp_path, "rethinking_weight_level", synthetic.rethinking_weight_level(), {"x": "sparsity"}, name="w"
    )
    skipped = weight[(weight["dense"] == "vgg19") & (weight["branch"] == "sb") & (weight["target_sparsity"] == 0.9)]
    assert (skipped["n"].iloc[0], skipped["missing_why"].iloc[0]) == (2, "skipped ×1")


def test_summarise_counts_missing_and_unmeasured_runs():
    rows = pd.DataFrame(
        {
            "g": ["a", "a", "a", "b", "b"],
            "v": [1.0, 3.0, np.nan, np.nan, np.nan],
            "status": ["ok", "ok", "ok", "diverged", "skipped"],
        }
    )
    stats = summarise(rows, ["g"], "v").set_index("g")
    assert stats.loc["a", ["mean", "std", "n", "missing"]].tolist() == [
        2.0,
        math.sqrt(2.0),
        2,
        1,
    ]  # sample std (ddof 1) of 1 and 3
    assert stats.loc["a", "missing_why"] == "not measured ×1"
    assert np.isnan(stats.loc["b", "mean"]) and stats.loc["b", "missing_why"] == "diverged ×1, skipped ×1"


@pytest.mark.parametrize(
    "spec,message",
    [
        (
            {"type": "rethinking_table1", "options": {"archs": {}}},
            "config key figures.bad.options: Additional properties are not allowed ('archs' was unexpected) "
            "(allowed: architectures, columns, published) (figure type rethinking_table1)",
        ),
        (
            {"type": "dyniso_jsv", "options": {"published": "maybe"}},
            "config key figures.bad.options.published: 'maybe' is not one of ['matching', 'any_dataset', 'none'] "
            "(figure type dyniso_jsv)",
        ),
        (
            {"type": "rethinking_table1", "options": {"columns": {"ft": "fine-tune"}}},
            "config key figures.bad.options.columns.ft: 'fine-tune' is not one of "
            "['finetune', 'scratch_e', 'scratch_b']",
        ),
        (
            {"type": "rethinking_table1", "options": {"architectures": {"l1_a": ["A"]}}},
            "config key figures.bad.options.architectures.l1_a: ['A'] is not of type 'string'",
        ),
        (
            {"type": "sipp_accuracy_vs_retained", "options": {"tolerance": "1pp"}},
            "config key figures.bad.options.tolerance: '1pp' is not of type 'number'",
        ),
        (
            {"type": "sipp_accuracy_vs_retained", "options": {"tolerance": -1}},
            "config key figures.bad.options.tolerance: -1 is less than the minimum of 0",
        ),
        (
            {"type": "rethinking_weight_level", "options": {"branch_types": ["finetune", "retrain"]}},
            "config key figures.bad.options.branch_types[1]: 'retrain' is not one of ['finetune', 'lottery', 'reinit'",
        ),
        (
            {"type": "dyniso_finetune_lr", "options": {"branch_types": []}},
            "config key figures.bad.options.branch_types: [] should be non-empty",
        ),
        (
            {"type": "lossmodel_loss_vs_accuracy", "options": {"log_loss": "yes"}},
            "config key figures.bad.options.log_loss: 'yes' is not of type 'boolean'",
        ),
        (
            {"type": "lossmodel_locality", "options": {"hparam": ""}},
            "config key figures.bad.options.hparam: '' should be non-empty",
        ),
        (
            {"type": "rethinking_table1", "options": ["A"]},
            "config key figures.bad.options: ['A'] is not of type 'object' (figure type rethinking_table1)",
        ),
        ({"type": "table_one"}, "config key figures.bad.type: 'table_one' is unknown (allowed: accuracy_vs_sparsity,"),
    ],
)
def test_bad_options_are_one_line_config_errors(spec, message):
    with pytest.raises(ConfigError) as error:
        check_figures({"bad": {"experiments": ["x"], **spec}})
    assert message in str(error.value) and "\n" not in str(error.value)


@pytest.mark.parametrize(
    "kind,builder,options,message",
    [
        (
            "dyniso_jsv",
            synthetic.sipp,
            {},
            "figure fig (dyniso_jsv): its tables have no pruned rows with a measured JSV",
        ),
        ("rethinking_lottery", synthetic.sipp, {}, "its tables have no lottery / rewind_weights / reinit branch rows"),
        ("lossmodel_locality", synthetic.sipp, {}, "no pruning setting has the hyperparameter 'lambda'"),
        (
            "lossmodel_locality",
            synthetic.lossmodel,
            {"hparam": "lam"},
            "no pruning setting has the hyperparameter 'lam'",
        ),
    ],
)
def test_figures_without_their_rows_say_so_in_one_line(tmp_path, kind, builder, options, message):
    with pytest.raises(ConfigError) as error:
        render(tmp_path, kind, builder(), options)
    assert message in str(error.value) and "\n" not in str(error.value)


def test_cli_figure_with_a_bad_option_prints_one_line(tmp_path, capsys):
    path = tmp_path / "t.csv"
    synthetic.sipp().to_csv(path, index=False)
    spec = json.dumps({"type": "sipp_accuracy_vs_retained", "experiments": ["x"], "options": {"retain": "all"}})
    assert (
        main(
            [
                "figure",
                "--spec",
                spec,
                "--tables",
                str(path),
                "--out",
                str(tmp_path / "f.png"),
                "--results",
                str(tmp_path),
                "--name",
                "f",
            ]
        )
        == 2
    )
    lines = capsys.readouterr().err.strip().splitlines()
    assert lines == [
        "prunelab: config key figures.f.options: Additional properties are not allowed ('retain' was "
        "unexpected) (allowed: retained, tolerance) (figure type sipp_accuracy_vs_retained)"
    ]
    assert not (tmp_path / "f.png").exists()


def test_every_published_value_has_a_citation_and_a_source_tag():
    everything = references.table(verified_only=False)
    assert len(everything) == len(references.PUBLISHED)
    for _, value in everything.iterrows():
        assert value["paper"] and value["citation"] and value["source"]
        assert value["unverified"] == value["source"].startswith("R ")
        assert value["unverified"] or value["source"].startswith(("V:S4", "V:S5"))
    recalled = everything[everything["unverified"]]
    assert set(recalled["column"]) == {"unpruned", "finetune", "scratch_e", "scratch_b"}
    assert set(recalled[recalled["column"] != "finetune"]["model"]) == {"vgg16"}
    assert not references.table().empty and not references.table()["unverified"].any()


def test_published_values_match_methods_md():
    table1 = references.liu_table1().set_index(["model", "architecture", "column"])
    assert (table1.loc[("resnet110", "B", "scratch_b"), ["value", "std"]] == [93.60, 0.25]).all()
    assert table1.loc[("resnet34", "A", "scratch_e"), "value"] == 72.77
    assert np.isnan(table1.loc[("resnet34", "A", "scratch_e"), "std"])
    assert "finetune" not in set(table1.index.get_level_values("column"))
    factors = references.liu_epoch_factors().set_index(["model", "architecture"])["value"]
    assert factors[("resnet56", "A")] == 0.1156411502 and factors[("resnet110", "B")] == 0.6272741807
    jsv = references.wang_jsv().set_index(["model", "activation", "pruning_ratio"])
    assert len(jsv) == 4 * 6 and (jsv["runs"] == 2).all()
    assert jsv.loc[("lenet5", "relu", 0.0), "value"] == pytest.approx((3.0128 + 2.9976) / 2)
    assert jsv.loc[("lenet5", "relu", 0.0), "std"] == pytest.approx(abs(3.0128 - 2.9976) / 2)
    assert jsv.loc[("mlp7", "linear", 0.9), "value"] == 0.0004


def test_overlays_only_ever_show_verified_values(tmp_path):
    values = render(
        tmp_path,
        "rethinking_table1",
        synthetic.rethinking_table1(),
        {**CASES["rethinking_table1"][1], "published": "any_dataset"},
    )
    shown = values.dropna(subset=["published_mean"])
    assert shown["published_source"].str.startswith("V:").all()
    assert set(shown["published_mean"]) <= set(references.table(verified_only=True)["value"])
    everything = references.table(verified_only=False).set_index(["model", "architecture", "column"])
    for _, row in shown[shown["quantity"] == "test_acc"].iterrows():
        assert not everything.loc[(row["model"], row["architecture"], row["column"]), "unverified"]


@pytest.mark.e2e
def test_snakemake_rejects_a_bad_figure_option_before_any_job(tmp_path):
    import yaml
    from conftest import ROOT, snakemake

    config = yaml.safe_load((ROOT / "tests" / "configs" / "tiny.yaml").read_text())
    config["figures"]["acc"] = {
        "type": "sipp_accuracy_vs_retained",
        "experiments": ["oneshot"],
        "options": {"tolerance": -1},
    }
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(config))
    proc = snakemake(tmp_path, "--configfile", str(path), "-n", check=False)
    assert proc.returncode != 0
    assert (
        f"{path}: key figures.acc.options.tolerance: -1 is less than the minimum of 0 "
        f"(figure type sipp_accuracy_vs_retained)"
    ) in proc.stdout + proc.stderr
    assert not (tmp_path / "results").exists()


def test_two_labels_of_the_same_runs_are_one_line_with_each_run_counted_once(tmp_path):
    """Scratch-E on a net without conv layers is its re-init run: one line named both ways, n = seeds."""
    table = synthetic.demo_like()
    table["run"] = [f"run{i}" for i in range(len(table))]
    branches = table["experiment"] == "branches"
    reinit, scratch = branches & (table["branch_type"] == "reinit"), branches & (table["branch_type"] == "scratch_e")
    table.loc[scratch, ["run", "test_acc"]] = table.loc[reinit, ["run", "test_acc"]].to_numpy()
    table.to_csv(tmp_path / "t.csv", index=False)
    result = draw(
        {"type": "accuracy_vs_sparsity", "experiments": ["x"]}, [tmp_path / "t.csv"], tmp_path / "f.png", tmp_path, "f"
    )
    texts = [t.get_text() for t in _legends(result.figure)[0].get_texts()]
    shared = "magnitude, global → reinit = magnitude, global → scratch_e (the same runs)"
    assert shared in texts
    assert {"magnitude, global → scratch_e", "magnitude, global → reinit"}.isdisjoint(texts)
    line = result.values[result.values["series"] == shared]
    assert list(line["n"]) == [3, 3]
    expected = table[reinit].groupby("target_sparsity")["test_acc"].mean()
    assert line.set_index("target_sparsity")["ours_mean"].to_dict() == pytest.approx(expected.to_dict())


# --- error bars: series side by side, axes set by the means, cut bars marked ---------------------------------------


def test_dodge_puts_series_side_by_side_centred_on_the_measured_x():
    from prunelab.analysis.plotting import dodge, dodge_note

    shifts = dodge(11)
    assert len(set(shifts)) == 11 and np.diff(shifts) == pytest.approx(np.full(10, 3.0))
    assert shifts.sum() == pytest.approx(0.0) and shifts.max() == pytest.approx(15.0)
    assert list(dodge(1)) == [0.0] and dodge_note(1) == ""
    assert "±15 pt" in dodge_note(11) and "display offset" in dodge_note(11)


def test_value_limits_follow_the_means_not_one_wide_interval():
    from prunelab.analysis.plotting import value_limits

    means = pd.Series([90.0, 92.0, 96.0, 97.0])
    narrow = value_limits(means, means - 0.5, means + 0.5, min_span=0.5)
    assert narrow == pytest.approx((89.5, 97.5))  # every interval shown whole
    wide = value_limits(means, pd.Series([89.0, 91.0, 20.0, 96.0]), pd.Series([91.0, 93.0, 140.0, 98.0]), 0.5)
    assert wide == pytest.approx((90.0 - 0.25 * 7, 97.0 + 0.25 * 7))  # at most a quarter of the means' span
    assert value_limits(pd.Series([5.0, 99.0]), pd.Series([-40.0, 90.0]), pd.Series([9.0, 130.0]), 0.5) == (-2.0, 102.0)
    assert value_limits(pd.Series([np.nan]), pd.Series([np.nan]), pd.Series([np.nan]), 0.5) is None


def test_clip_interval_cuts_at_the_window_and_says_which_ends():
    from prunelab.analysis.plotting import clip_interval

    centre = np.array([95.0, 96.0, 80.0])
    yerr = np.array([[1.0, 10.0, 1.0], [20.0, 0.5, 1.0]])
    cut, below, above = clip_interval(centre, yerr, 90.0, 98.0)
    assert cut.tolist() == [[1.0, 6.0, 0.0], [3.0, 0.5, 0.0]]  # 80 is not shown: neither is its bar
    assert below.tolist() == [False, True, False] and above.tolist() == [True, False, False]


def test_generic_figure_cuts_a_wide_interval_and_says_so(tmp_path):
    table = synthetic.demo_like()
    unstable = (table["pruning"] == "lobs") & (table["stage"] == "branch") & (table["target_sparsity"] == 0.5)
    table.loc[unstable & (table["seed"] == 1), "test_acc"] = 15.0  # one seed collapses: its interval spans 0–100
    table.to_csv(tmp_path / "t.csv", index=False)
    result = draw(
        {"type": "accuracy_vs_sparsity", "experiments": ["x"]}, [tmp_path / "t.csv"], tmp_path / "f.png", tmp_path, "f"
    )
    full = result.figure.axes[0]
    low, high = full.get_ylim()
    assert high <= 102.0 and low > result.values["ci_low"].min()
    assert any(text.arrow_patch is not None for text in full.texts)  # the cut end is marked
    assert "arrowhead" in result.figure._supxlabel.get_text().replace("\n", " ")


def test_a_figure_without_a_config_title_takes_its_type_title_not_its_config_key(tmp_path):
    assert all(kind.title for kind in figure_types().values())
    synthetic.dyniso_finetune().to_csv(tmp_path / "t.csv", index=False)
    result = draw(
        {"type": "dyniso_finetune_lr", "experiments": ["x"]},
        [tmp_path / "t.csv"],
        tmp_path / "table_finetune_lr.png",
        tmp_path,
        "table_finetune_lr",
    )
    assert result.figure._suptitle.get_text().replace("\n", " ") == figure_types()["dyniso_finetune_lr"].title
    assert "table finetune lr" not in (tmp_path / "table_finetune_lr.summary.rst").read_text()


def test_bar_value_labels_sit_above_the_caps_and_single_runs_draw_no_cap(tmp_path):
    from matplotlib.text import Annotation
    from matplotlib.transforms import Bbox

    from prunelab.analysis.dyniso import bar_interval

    table = synthetic.dyniso_finetune()
    single = (table["dense"] == table["dense"].iloc[0]) & (table["seed"] != table["seed"].min())
    table = table[~single]  # one dense net with one seed: n = 1, no interval
    table.to_csv(tmp_path / "t.csv", index=False)
    result = draw(
        {"type": "dyniso_finetune_lr", "experiments": ["x"]}, [tmp_path / "t.csv"], tmp_path / "f.png", tmp_path, "f"
    )
    renderer = _laid_out(result.figure)
    for ax in result.figure.axes:
        caps = [
            Bbox.from_extents(x - half_width, y - half_thick, x + half_width, y + half_thick)
            for line in ax.lines
            if line.get_marker() == "_"
            for half_width, half_thick in [
                (
                    line.get_markersize() / 2 * renderer.points_to_pixels(1),
                    line.get_markeredgewidth() / 2 * renderer.points_to_pixels(1),
                )
            ]
            for x, y in line.get_transform().transform(line.get_xydata())
            if np.isfinite(y)
        ]
        labels_ = [
            t.get_window_extent(renderer) for t in ax.texts if isinstance(t, Annotation) and t.get_text() != "n/a"
        ]
        assert labels_
        assert not any(cap.overlaps(label) for cap in caps for label in labels_)
    one = pd.DataFrame({"ours_mean": [90.0, 91.0], "ci_low": [np.nan, 89.0], "ci_high": [np.nan, 93.0]})
    yerr = bar_interval(one)
    assert np.isnan(yerr[:, 0]).all() and yerr[:, 1].tolist() == [2.0, 2.0]


def test_the_note_wraps_to_the_panels_at_the_resolution_the_png_is_saved_at():
    """Laid out at 100 dpi and saved at 150, the note's lines came out ~2 % wider than measured (font hinting does
    not scale) and ran past the image's edge (the record's sipp_prune_only); it wraps to the panels, not to the
    legend row under them, which has no tick labels and reaches the figure's edges."""
    from prunelab.analysis.plotting import DPI, finish, panels

    fig, axes = panels(1, 1, width=5.2, legend_row=True)
    assert fig.dpi == DPI
    axes[0, 0].plot([90, 95], [80, 60], label="WT")
    note = (
        "Points: mean over n = 3 seeds; error bars and bands: 95 % t-interval of the mean over seeds. Series at "
        "one x are drawn side by side, 3 pt apart (up to ±6 pt, a display offset: the x value is the measured "
        "one, see the CSV). An arrowhead at a panel's edge: that interval runs on beyond it."
    )
    finish(fig, axes, "LeNet-300-100 on Fashion-MNIST: SiPP, WT and SNIP right after pruning", note)
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    panel = axes[0, 0].get_window_extent(renderer)
    caption = fig._supxlabel.get_window_extent(renderer)
    assert "\n" in fig._supxlabel.get_text()
    assert caption.width <= panel.width + 1 and 0 <= caption.x0 and caption.x1 <= fig.get_figwidth() * fig.dpi
