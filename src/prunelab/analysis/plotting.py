"""Shared drawing conventions, so every figure reads the same way at 150 dpi and every series can be told apart.

* Styles: each series of a figure gets a (colour, marker, dash) triple that no other series of the figure
  shares (:func:`style`, or :func:`grouped_style` where colour carries a meaning such as the criterion).
* Legends sit outside the axes (right of them, or below bar charts), so they never cover a point.
* Error bars are the 95 % t-interval of the mean (:func:`interval`), and :func:`finish` writes under the figure
  what n is and what the bars are; titles wrap to the width they have.

matplotlib is imported on first use only: the workflow imports the figure registry when it parses the config,
and that must stay fast. Published values always use the same look: a dashed line with hollow diamonds (or
black hollow diamonds over bars) and a legend entry containing "published".
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from prunelab.analysis.stats import ERROR_BAR

PUBLISHED_LINE = {"linestyle": "--", "marker": "D", "markerfacecolor": "white", "markersize": 5, "linewidth": 1.2,
                  "capsize": 3, "zorder": 3}
OURS_LINE = {"linestyle": "-", "markersize": 4, "linewidth": 1.4, "capsize": 3, "zorder": 2}
COLOURS = 10                         # the tab10 cycle: C0 … C9
MARKERS = "osv^<>pPX*h"              # 11 markers: coprime with the 10 colours ("D" is kept for published values)
LINESTYLES = ["-", "--", ":", "-."]
FONT = {"legend": 7, "title": 9, "suptitle": 10, "caption": 7}


def pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def color(i: int) -> str:
    return f"C{i % COLOURS}"


def style(i: int) -> dict:
    """Colour, marker and dash of the ``i``-th series of a figure.

    Colours come first (ten distinct hues); the marker cycles with period 11, coprime with 10, so neighbours
    differ in marker too; the dash changes every ten series, so the 11th series, which repeats the first one's
    colour, differs from it in marker and dash. No two of the first 440 series share all three.
    """
    return {"color": color(i), "marker": MARKERS[i % len(MARKERS)],
            "linestyle": LINESTYLES[i // COLOURS % len(LINESTYLES)]}


def grouped_style(group: int, member: int, members: int) -> dict:
    """Style of series ``member`` (of ``members``) in group ``group`` when colour means the group (e.g. the
    pruning criterion) and marker and dash tell the members apart (e.g. the number of pruning steps).

    Groups beyond the tenth reuse a colour and move on to combinations their namesake ten groups earlier did
    not use. Dash (period 4) and marker (period 11, shifted per colour so that groups differ in marker too)
    are coprime, so the triple stays unique for up to 44 combinations per colour."""
    combination = member + group // COLOURS * members
    return {"color": color(group), "marker": MARKERS[(combination + group % COLOURS) % len(MARKERS)],
            "linestyle": LINESTYLES[combination % len(LINESTYLES)]}


def panels(rows: int, cols: int, width: float = 4.6, height: float = 3.4, **kwargs):
    """A figure with a ``rows × cols`` grid of axes (always 2-D) sized for readable 150-dpi output."""
    plt = pyplot()
    fig, axes = plt.subplots(rows, cols, figsize=(width * cols, height * rows + 0.4), squeeze=False,
                             constrained_layout=True, **kwargs)
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


def errorline(ax, x, stats: pd.DataFrame, label: str, published: bool = False, **look):
    """Mean of ``stats`` at ``x`` with its error bar (:func:`interval`)."""
    look = {**(PUBLISHED_LINE if published else OURS_LINE), **look}
    return ax.errorbar(np.asarray(x, dtype=float), stats["mean"].to_numpy(dtype=float), yerr=interval(stats),
                       label=label, **look)


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
        ax.legend(handles, texts, fontsize=FONT["legend"], loc="upper left", bbox_to_anchor=(1.02, 1.0),
                  borderaxespad=0.0)


def figure_legend(fig, axes) -> None:
    """One legend for panels that show the same series, right of all of them (outside every axes); the figure
    grows by the legend's width, so long labels never squeeze the panels."""
    handles, texts = _unique_handles(axes)
    if handles:
        legend = fig.legend(handles, texts, fontsize=FONT["legend"], loc="outside right upper")
        width = legend.get_window_extent(fig.canvas.get_renderer()).width / fig.dpi
        fig.set_figwidth(fig.get_figwidth() + width)


def legend_below(ax, ncol: int = 2) -> None:
    """Legend under the axes: bar charts have no free corner inside."""
    handles, texts = _unique_handles([ax])
    if handles:
        ax.legend(handles, texts, fontsize=FONT["legend"], loc="upper center", bbox_to_anchor=(0.5, -0.16),
                  ncol=ncol)


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
    full.axhspan(low, high, facecolor="none", edgecolor="grey", linestyle="--", linewidth=0.8)
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


def wrap(text: str, width_px: float, fontsize: float, renderer) -> str:
    """``text`` with line breaks so that no line is wider than ``width_px`` at ``fontsize`` (measured)."""
    from matplotlib.font_manager import FontProperties

    font = FontProperties(size=fontsize)

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
        if not ax.has_data() and not ax.texts:   # a spare grid cell (a cell with a note stays)
            ax.set_visible(False)
        elif ax.get_visible():
            visible.append(ax)
        ax.grid(True, alpha=0.3)
    renderer = fig.canvas.get_renderer()
    texts = [(fig.suptitle(title, fontsize=FONT["suptitle"]), title, FONT["suptitle"])]
    if note:
        texts.append((fig.supxlabel(note, fontsize=FONT["caption"], style="italic"), note, FONT["caption"]))
    titles = [(ax.title, ax.get_title(), ax) for ax in visible if ax.get_title()]
    for _ in range(2):   # lay out, wrap to the room the panels got, lay out again with the wrapped texts
        fig.canvas.draw()
        left = min((ax.get_position().x0 for ax in visible), default=0.0)
        right = max((ax.get_position().x1 for ax in visible), default=1.0)
        for artist, text, size in texts:
            artist.set_text(wrap(text, (right - left) * fig.get_figwidth() * fig.dpi, size, renderer))
            artist.set_x((left + right) / 2)
        for artist, text, ax in titles:
            artist.set_text(wrap(text, ax.get_window_extent(renderer).width, artist.get_fontsize(), renderer))
