"""Shared drawing conventions, so every figure reads the same way at 150 dpi and every series can be told apart.

* Styles: each series of a figure gets a (colour, marker, dash) triple that no other series of the figure
  shares (:func:`style`, or :func:`grouped_style` where colour carries a meaning such as the criterion).
* Legends sit outside the axes (right of them, below bar charts, or in a row under all panels,
  :func:`figure_legend`), so they never cover a point.
* Error bars are the 95 % t-interval of the mean (:func:`interval`), and :func:`finish` writes under the figure
  what n is and what the bars are; titles wrap to the width they have. Series that share x values can be drawn
  side by side (:func:`dodge`), and an axis can be set by the means so that one wide interval is cut at the
  edge, marked by an arrowhead, instead of stretching it (:func:`value_limits`, :func:`clip_interval`).

matplotlib is imported on first use only: the workflow imports the figure registry when it parses the config,
and that must stay fast. Published values always use the same look: a dashed line with hollow diamonds (or
black hollow diamonds over bars) and a legend entry containing "published".
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from prunelab.analysis.stats import ERROR_BAR

PUBLISHED_LINE = {
    "linestyle": "--",
    "marker": "D",
    "markerfacecolor": "white",
    "markersize": 5,
    "linewidth": 1.2,
    "capsize": 3,
    "zorder": 3,
}
OURS_LINE = {"linestyle": "-", "markersize": 4, "linewidth": 1.4, "capsize": 3, "zorder": 2}
# tab10 (C0 … C9), then five dark hues of tab20b that none of them resembles: the demo's figures draw up to
# 11 series, and a repeated hue told apart by marker alone (C0 "o" vs C0 "h") reads as one series.
PALETTE = [
    "C0",
    "C1",
    "C2",
    "C3",
    "C4",
    "C5",
    "C6",
    "C7",
    "C8",
    "C9",
    "#393b79",
    "#e7ba52",
    "#637939",
    "#7b4173",
    "#843c39",
]
COLOURS = len(PALETTE)
MARKERS = "osv^<>pPX*h"  # 11 markers: coprime with the 15 colours ("D" is kept for published values)
DODGE_PT = 3.0  # sideways shift between neighbouring series at one x, in points (1/72 in)
LINESTYLES = ["-", "--", ":", "-."]
FONT = {"legend": 7, "title": 9, "suptitle": 10, "caption": 7}


def pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def color(i: int) -> str:
    return PALETTE[i % COLOURS]


def style(i: int) -> dict:
    """Colour, marker and dash of the ``i``-th series of a figure.

    Colours come first (15 distinct hues); the marker cycles with period 11, coprime with 15, so neighbours
    differ in marker too and no two of the first 165 series share a (colour, marker) pair; the dash changes
    every 15 series, so the 16th series, which repeats the first one's colour, differs from it in marker and
    dash.
    """
    return {
        "color": color(i),
        "marker": MARKERS[i % len(MARKERS)],
        "linestyle": LINESTYLES[i // COLOURS % len(LINESTYLES)],
    }


def grouped_style(group: int, member: int, members: int) -> dict:
    """Style of series ``member`` (of ``members``) in group ``group`` when colour means the group (e.g. the
    pruning criterion) and marker and dash tell the members apart (e.g. the number of pruning steps).

    Groups beyond the 15th reuse a colour and move on to combinations their namesake 15 groups earlier did
    not use. Dash (period 4) and marker (period 11, shifted per colour so that groups differ in marker too)
    are coprime, so the triple stays unique for up to 44 combinations per colour."""
    combination = member + group // COLOURS * members
    return {
        "color": color(group),
        "marker": MARKERS[(combination + group % COLOURS) % len(MARKERS)],
        "linestyle": LINESTYLES[combination % len(LINESTYLES)],
    }


# every figure is laid out at the resolution its PNG is saved at: text wrapped at 100 dpi came out ~2 % wider
# relative to the panels at 150 dpi (font hinting does not scale), and a caption line ran past the image's edge
DPI = 150
LEGEND_ROW = "legend row"  # the label of the axes that holds a figure's legend under its panels


def panels(rows: int, cols: int, width: float = 4.6, height: float = 3.4, legend_row: bool = False, **kwargs):
    """A figure with a ``rows × cols`` grid of axes (always 2-D) sized for readable 150-dpi output; with
    ``legend_row``, a row under them, across all columns, for :func:`figure_legend` (a figure-level legend
    below the panels would sit on the caption: constrained layout does not stack the two)."""
    plt = pyplot()
    fig = plt.figure(figsize=(width * cols, height * rows + 0.4), dpi=DPI, layout="constrained")
    grid = fig.add_gridspec(rows + legend_row, cols, height_ratios=[height] * rows + [0.5] * legend_row)
    axes = np.array([[fig.add_subplot(grid[r, c], **kwargs) for c in range(cols)] for r in range(rows)])
    if legend_row:
        key = fig.add_subplot(grid[rows, :], label=LEGEND_ROW)
        key.set_axis_off()
    return fig, axes


def interval(stats: pd.DataFrame, mean: str = "mean", low: str = "ci_low", high: str = "ci_high") -> np.ndarray | None:
    """The 2 × N error-bar extent of ``stats``: the 95 % interval (columns ``low``/``high``) where ``stats`` has
    one, else ± std (published values come as mean ± std); zero length where either is undefined (n = 1)."""
    centre = stats[mean].to_numpy(dtype=float)
    if low in stats:
        yerr = np.vstack([centre - stats[low].to_numpy(dtype=float), stats[high].to_numpy(dtype=float) - centre])
        return np.nan_to_num(yerr, nan=0.0)
    if "std" in stats:
        spread = stats["std"].fillna(0).to_numpy(dtype=float)
        return np.vstack([spread, spread])
    return None


def dodge(series: int, step: float = DODGE_PT) -> np.ndarray:
    """Sideways shift, in points, of each of ``series`` series drawn at the same x values: ``step`` apart and
    centred on zero, so that their error bars stand side by side instead of on top of each other. A display
    offset (:func:`shifted`), not a data offset: the x values plotted and written to the CSV stay the measured
    ones, on a linear axis as on a log one."""
    return (np.arange(series) - (series - 1) / 2) * step


def dodge_note(series: int, step: float = DODGE_PT) -> str:
    """The caption sentence for :func:`dodge` (empty for one series)."""
    if series < 2:
        return ""
    return (
        f" Series at one x are drawn side by side, {step:g} pt apart (up to ±{dodge(series, step).max():g} pt, "
        f"a display offset: the x value is the measured one, see the CSV)."
    )


def shifted(ax, points: float):
    """``ax``'s data coordinates moved right by ``points`` on screen (whatever the x scale)."""
    from matplotlib.transforms import ScaledTranslation

    return ax.transData + ScaledTranslation(points / 72, 0, ax.figure.dpi_scale_trans)


def make_room(ax, x: pd.Series, points: float) -> None:
    """x limits of ``ax`` around the data ``x`` (5 % margins) widened by ``points`` on screen at each side, so
    series shifted by up to that much (:func:`dodge`) stay inside: matplotlib's autoscaling does not see a
    shifted line. Measured with the layout laid out, on a linear or a log axis alike."""
    finite = pd.to_numeric(x, errors="coerce").dropna()
    if finite.empty:
        return
    low, high = float(finite.min()), float(finite.max())
    if ax.get_xscale() == "log":
        low, high = low / 10 ** (0.05 * math.log10(high / low)), high * 10 ** (0.05 * math.log10(high / low))
    else:
        margin = 0.05 * (high - low) or 1.0
        low, high = low - margin, high + margin
    ax.set_xlim(low, high)
    ax.figure.canvas.draw()
    (left, _), (right, _) = ax.transData.transform([(low, 0.0), (high, 0.0)])
    pad = points * ax.figure.dpi / 72
    low, high = ax.transData.inverted().transform([(left - pad, 0.0), (right + pad, 0.0)])[:, 0]
    ax.set_xlim(low, high)


def value_limits(
    means: pd.Series, lows: pd.Series, highs: pd.Series, min_span: float, bounds: tuple[float, float] = (-2.0, 102.0)
) -> tuple[float, float] | None:
    """y limits set by the means, not by the widest interval: every mean is shown with a margin, an interval
    end extends the axis by at most a quarter of the means' span (at least ``min_span``), and the limits stay
    within ``bounds`` (accuracy cannot leave 0–100 %). With n = 2 or 3 one unstable setting's 95 % interval can
    be ten times the spread of all means; it is cut at the edge (:func:`clip_interval`) instead of flattening
    every other line. None without a finite mean."""
    finite = pd.to_numeric(means, errors="coerce").dropna()
    if finite.empty:
        return None
    lowest, highest = float(finite.min()), float(finite.max())
    span = max(highest - lowest, min_span)
    ends_low = pd.to_numeric(lows, errors="coerce").dropna()
    ends_high = pd.to_numeric(highs, errors="coerce").dropna()
    low = min(float(ends_low.min()) if len(ends_low) else lowest, lowest - 0.05 * span)
    high = max(float(ends_high.max()) if len(ends_high) else highest, highest + 0.05 * span)
    low, high = max(low, lowest - 0.25 * span), min(high, highest + 0.25 * span)
    return max(low, bounds[0]), min(high, bounds[1])


def clip_interval(
    centre: np.ndarray, yerr: np.ndarray, low: float, high: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``yerr`` (2 × N) cut to the window ``low``–``high``, and which bars were cut below and above. A bar whose
    mean lies outside the window (a zoomed panel's lower points) is dropped: it would cross the whole panel
    without its point, which the full panel shows with its bar."""
    centre = np.asarray(centre, dtype=float)
    inside = (centre >= low) & (centre <= high)
    below = inside & (centre - yerr[0] < low)
    above = inside & (centre + yerr[1] > high)
    cut = np.vstack([np.where(below, centre - low, yerr[0]), np.where(above, high - centre, yerr[1])])
    return np.where(inside, np.clip(cut, 0.0, None), 0.0), below, above


CLIPPED_NOTE = " An arrowhead at a panel's edge: that interval runs on beyond it (its ends are in the CSV)."


def errorline(
    ax,
    x,
    stats: pd.DataFrame,
    label: str,
    published: bool = False,
    shift: float = 0.0,
    limits: tuple[float, float] | None = None,
    **look,
) -> int:
    """Mean of ``stats`` at ``x`` with its error bar (:func:`interval`), ``shift`` points to the right
    (:func:`dodge`). With the panel's y ``limits`` (set on ``ax``), bars are cut at the edge and an arrowhead
    marks each cut end (:func:`clip_interval`). Returns how many ends were cut."""
    look = {**(PUBLISHED_LINE if published else OURS_LINE), **look}
    centre = stats["mean"].to_numpy(dtype=float)
    x = np.asarray(x, dtype=float)
    yerr = interval(stats)
    transform = shifted(ax, shift) if shift else ax.transData
    below = above = np.zeros(len(centre), dtype=bool)
    if limits is not None:
        ax.set_ylim(*limits)
        if yerr is not None:
            yerr, below, above = clip_interval(centre, yerr, *limits)
    drawn = ax.errorbar(x, centre, yerr=yerr, label=label, transform=transform, **look)
    colour = drawn.lines[0].get_color()
    for ends, edge, away in ((below, limits and limits[0], 8), (above, limits and limits[1], -8)):
        for xi in x[ends]:
            ax.annotate(
                "",
                xy=(xi, edge),
                xycoords=transform,
                xytext=(0, away),
                textcoords="offset points",
                arrowprops={"arrowstyle": "-|>", "color": colour, "linewidth": 0.9, "mutation_scale": 8},
                annotation_clip=False,
            )
    return int(below.sum() + above.sum())


def dense_band(ax, stats: pd.Series, label: str) -> None:
    """The unpruned network's mean as a horizontal line, with its 95 % interval as a band."""
    mean = float(stats["mean"])
    if not math.isfinite(mean):
        return
    ax.axhline(mean, color="black", linestyle=":", linewidth=1, label=label)
    low, high = float(stats["ci_low"]), float(stats["ci_high"])
    if math.isfinite(low) and math.isfinite(high) and high > low:
        ax.axhspan(low, high, color="black", alpha=0.08)


def _unique_handles(axes) -> tuple[list, list[str]]:
    handles, texts = [], []
    for ax in axes:
        for handle, text in zip(*ax.get_legend_handles_labels()):
            if text not in texts:
                handles.append(handle)
                texts.append(text)
    return handles, texts


def legend_outside(ax, also=()) -> None:
    """The legend of ``ax`` (and of the axes ``also``, entries with the same text once) right of ``ax``, outside
    it: inside, some corner always hides a point of some figure. Constrained layout makes room for it."""
    handles, texts = _unique_handles([ax, *also])
    if handles:
        ax.legend(
            handles, texts, fontsize=FONT["legend"], loc="upper left", bbox_to_anchor=(1.02, 1.0), borderaxespad=0.0
        )


def figure_legend(fig, axes) -> None:
    """One legend for panels that show the same series, in the figure's legend row (:func:`panels`) under all
    of them, in as many columns as fit the width; the row and the figure grow by the legend's height. Beside
    the panels, long labels made the figure half legend."""
    handles, texts = _unique_handles(axes)
    key = next(ax for ax in fig.axes if ax.get_label() == LEGEND_ROW)
    if not handles:
        key.remove()
        return
    renderer = fig.canvas.get_renderer()
    room = key.get_position().width * fig.get_figwidth() * fig.dpi
    for columns in range(min(len(handles), 4), 0, -1):
        legend = key.legend(
            handles, texts, fontsize=FONT["legend"], loc="upper center", ncols=columns, borderaxespad=0.0
        )
        if columns == 1 or legend.get_window_extent(renderer).width <= room:
            break
        legend.remove()
    tall = legend.get_window_extent(renderer).height / fig.dpi
    grid = key.get_subplotspec().get_gridspec()
    ratios = grid.get_height_ratios()
    grid.set_height_ratios([*ratios[:-1], tall])
    fig.set_figheight(fig.get_figheight() + tall)


def legend_below(ax, ncol: int = 2) -> None:
    """Legend under the axes: bar charts have no free corner inside."""
    handles, texts = _unique_handles([ax])
    if handles:
        ax.legend(handles, texts, fontsize=FONT["legend"], loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=ncol)


def zoom_accuracy(ax, shown: list[pd.Series], min_span: float) -> None:
    """Zoom the y axis on the shown values (bars start off-axis), within 0–100%."""
    finite = pd.concat(shown).dropna() if shown else pd.Series(dtype=float)
    if finite.empty:
        return
    low, high = float(finite.min()), float(finite.max())
    span = max(high - low, min_span)
    ax.set_ylim(max(low - 0.3 * span, 0.0), min(high + 0.3 * span, 100.0 + 0.02 * span))


def top_band(means: pd.Series, min_span: float) -> tuple[float, float] | None:
    """y limits that resolve the upper half of the points: from the median mean (less a quarter of the span)
    to just above the highest mean, at least ``min_span`` tall. Means, not interval ends: with n = 2 a 95 %
    t-interval is ±12.7 std and would set the scale. None when that window would already show every point at
    a scale not much finer than the full axis (then a zoomed panel adds nothing)."""
    means = means.dropna()
    if len(means) < 2:
        return None
    top = float(means.max())
    span = max(top - float(means.median()), min_span)
    low, high = top - 1.25 * span, top + 0.25 * span
    if float(means.min()) >= low - 0.5 * span:
        return None
    return low, high


def percent_axis(ax) -> None:
    """Keep an accuracy axis within 0–100 % (plus a margin): a wide interval (n = 2) must not stretch it past
    values accuracy cannot take; the bars are clipped at the edge instead."""
    low, high = ax.get_ylim()
    ax.set_ylim(max(low, -2.0), min(high, 102.0))


def panels_with_zoom(rows: int, cols: int, zoom: bool, **kwargs):
    """``panels(rows, cols)``, or with ``zoom`` each panel followed by a twin for :func:`zoom_on`: returns the
    figure, the ``rows × cols`` main axes and the twins (None without ``zoom``)."""
    if not zoom:
        fig, axes = panels(rows, cols, **kwargs)
        return fig, axes, None
    fig, axes = panels(rows, 2 * cols, **kwargs)
    return fig, axes[:, 0::2], axes[:, 1::2]


def zoom_on(full, zoom, means: pd.Series, min_span: float, reference: float | None) -> bool:
    """Make ``zoom`` (drawn like ``full``) resolve the upper points (:func:`top_band`), outline that window on
    ``full`` and, given the ``reference`` (dense) mean, add a right axis in points relative to it (only where
    no legend sits right of ``zoom``: constrained layout does not move an axes legend past that axis). Hides
    ``zoom`` and returns False where the band would add nothing."""
    band = top_band(means, min_span)
    if band is None:
        zoom.set_visible(False)
        return False
    low, high = band
    zoom.set_ylim(low, high)
    below = int((means.dropna() < low).sum())
    zoom.set_title(f"zoom on the upper points ({below} of {means.notna().sum()} lie below)", fontsize=FONT["title"])
    full.axhline(low, color="grey", linestyle="--", linewidth=0.8, label="window of the zoomed panel")
    full.axhline(high, color="grey", linestyle="--", linewidth=0.8)
    if reference is not None and math.isfinite(reference):
        right = zoom.secondary_yaxis("right", functions=(lambda y: y - reference, lambda d: d + reference))
        right.set_ylabel("difference to the dense mean (points)")
    return True


def log_positions_with_zero(values: pd.Series) -> tuple[pd.Series, float | None]:
    """Positions on a log axis for values ≥ 0: zero sits one decade below the smallest positive value.

    Returns the positions and where zero was put (None when no value is zero), so the axis can label it "0".
    """
    positive = values[values > 0]
    if positive.empty:
        return values.where(values > 0, 1.0), (1.0 if (values == 0).any() else None)
    zero_at = 10.0 ** (math.floor(math.log10(float(positive.min()))) - 1)
    return values.where(values > 0, zero_at), (zero_at if (values == 0).any() else None)


def mark_zero(ax, zero_at: float | None) -> None:
    """Label the stand-in position of zero on a log x axis and draw a break mark beside it."""
    if zero_at is None:
        return
    _, high = ax.get_xlim()
    ticks = [t for t in ax.get_xticks() if zero_at * 3 < t <= high * 1.0001]
    ax.set_xticks([zero_at, *ticks])
    labels = ["0"] + [f"$10^{{{int(round(math.log10(t)))}}}$" for t in ticks]
    ax.set_xticklabels(labels)
    ax.axvline(zero_at * 3.1623, color="grey", linewidth=0.6, linestyle=(0, (2, 2)))


def plain_log_ticks(ax, axis: str = "x") -> None:
    """Label a log axis with plain numbers: every minor tick within a decade, 2 and 5 over up to 3 decades."""
    from matplotlib.ticker import FuncFormatter

    which = ax.xaxis if axis == "x" else ax.yaxis
    low, high = ax.get_xlim() if axis == "x" else ax.get_ylim()
    decades = math.log10(high / low)

    def minor(value, _):
        mantissa = round(value / 10 ** math.floor(math.log10(value)), 6)
        shown = decades < 1 or (decades <= 3 and mantissa in (2.0, 5.0))
        return f"{value:g}" if shown else ""

    which.set_major_formatter(FuncFormatter(lambda value, _: f"{value:g}"))
    which.set_minor_formatter(FuncFormatter(minor))


def caption(values: pd.DataFrame) -> str:
    """What a point and its bar are, from the plotted values: n seeds (its range where runs are missing) and
    the interval; published values, where drawn, are the papers' mean ± std."""
    n = values["n"][values["n"] > 0] if "n" in values else pd.Series(dtype=int)
    if n.empty:
        return "No usable run: nothing is averaged."
    low, high = int(n.min()), int(n.max())
    seeds = f"n = {low} seeds" if low == high else f"n = {low}–{high} seeds (fewer where runs are missing)"
    text = f"Points: mean over {seeds}; error bars and bands: {ERROR_BAR}"
    text += " (none where n = 1)." if low < 2 else "."
    if "published_mean" in values and values["published_mean"].notna().any():
        text += " Published values: mean ± std as reported."
    return text


def wrap(text: str, width_px: float, font, renderer) -> str:
    """``text`` with line breaks so that no line is wider than ``width_px`` in ``font`` (the artist's own font
    properties: its size and style)."""

    def width(line: str) -> float:
        return renderer.get_text_width_height_descent(line, font, ismath=False)[0]

    lines = []
    for paragraph in text.split("\n"):
        line = ""
        for word in paragraph.split(" "):
            candidate = f"{line} {word}" if line else word
            if line and width(candidate) > width_px:
                lines.append(line)
                line = word
            else:
                line = candidate
        lines.append(line)
    return "\n".join(lines)


def finish(fig, axes, title: str, note: str = "") -> None:
    """Hide spare grid cells, add grids, the title and (under the axes) the ``note`` on n and bars.

    The title and the note are centred over the panels and wrapped to their width, so a legend beside the
    panels keeps its column to itself; panel titles wrap to their own axes' width."""
    visible = []
    for ax in np.ravel(axes):
        if not ax.has_data() and not ax.texts and not ax.get_legend():  # a spare grid cell (not a note, a legend)
            ax.set_visible(False)
        elif ax.get_visible():
            visible.append(ax)
        ax.grid(True, alpha=0.3)
    renderer = fig.canvas.get_renderer()
    texts = [(fig.suptitle(title, fontsize=FONT["suptitle"]), title)]
    if note:
        texts.append((fig.supxlabel(note, fontsize=FONT["caption"], style="italic"), note))
    titles = [(ax.title, ax.get_title(), ax) for ax in visible if ax.get_title()]
    # the panels' span, not the legend row's: that axis has no tick labels, so it reaches the figure's edges and
    # a caption wrapped to it ran past them
    plotted = [ax for ax in visible if ax.get_label() != LEGEND_ROW] or visible
    for _ in range(2):  # lay out, wrap to the room the panels got, lay out again with the wrapped texts
        fig.canvas.draw()
        left = min((ax.get_position().x0 for ax in plotted), default=0.0)
        right = max((ax.get_position().x1 for ax in plotted), default=1.0)
        for artist, text in texts:
            artist.set_text(
                wrap(text, (right - left) * fig.get_figwidth() * fig.dpi, artist.get_fontproperties(), renderer)
            )
            artist.set_x((left + right) / 2)
        for artist, text, ax in titles:
            artist.set_text(wrap(text, ax.get_window_extent(renderer).width, artist.get_fontproperties(), renderer))
