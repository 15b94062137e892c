"""Shared drawing conventions, so every paper figure reads the same way at 150 dpi.

matplotlib is imported on first use only: the workflow imports the figure registry when it parses the config,
and that must stay fast. Published values always use the same look: a dashed line with hollow diamonds (or
black hollow diamonds over bars) and a legend entry containing "published".
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

PUBLISHED_LINE = {"linestyle": "--", "marker": "D", "markerfacecolor": "white", "markersize": 5, "linewidth": 1.2,
                  "capsize": 3, "zorder": 3}
OURS_LINE = {"linestyle": "-", "markersize": 4, "linewidth": 1.4, "capsize": 3, "zorder": 2}
MARKERS = "osv^<>pPX*h"
LINESTYLES = ["-", "--", ":", "-."]
FONT = {"legend": 7, "title": 9, "suptitle": 10}


def pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def color(i: int) -> str:
    return f"C{i % 10}"


def panels(rows: int, cols: int, width: float = 4.6, height: float = 3.4, **kwargs):
    """A figure with a ``rows × cols`` grid of axes (always 2-D) sized for readable 150-dpi output."""
    plt = pyplot()
    fig, axes = plt.subplots(rows, cols, figsize=(width * cols, height * rows + 0.4), squeeze=False,
                             constrained_layout=True, **kwargs)
    return fig, axes


def errorline(ax, x, stats: pd.DataFrame, label: str, published: bool = False, **style):
    """Mean of ``stats`` at ``x`` with its error bar: the 95 % interval (columns ci_low/ci_high) where ``stats``
    has one, else ± std (published values, which come as mean ± std); no bar where either is undefined."""
    look = {**(PUBLISHED_LINE if published else OURS_LINE), **style}
    mean = stats["mean"].to_numpy(dtype=float)
    if "ci_low" in stats:
        yerr = np.vstack([mean - stats["ci_low"].to_numpy(dtype=float), stats["ci_high"].to_numpy(dtype=float) - mean])
        yerr = np.nan_to_num(yerr, nan=0.0)
    else:
        yerr = stats["std"].fillna(0).to_numpy() if "std" in stats else None
    return ax.errorbar(np.asarray(x, dtype=float), mean, yerr=yerr, label=label,
                       **look)


def dense_band(ax, mean: float, std: float, label: str) -> None:
    """The unpruned network's mean ± std as a horizontal line and band."""
    if not math.isfinite(mean):
        return
    ax.axhline(mean, color="black", linestyle=":", linewidth=1, label=label)
    if math.isfinite(std) and std > 0:
        ax.axhspan(mean - std, mean + std, color="black", alpha=0.08)


def legend(ax, **kwargs) -> None:
    handles, _ = ax.get_legend_handles_labels()
    if handles:
        ax.legend(fontsize=FONT["legend"], **kwargs)


def legend_below(ax, ncol: int = 2) -> None:
    """Legend under the axes: bar charts have no free corner inside."""
    legend(ax, loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=ncol)


def zoom_accuracy(ax, shown: list[pd.Series], min_span: float) -> None:
    """Zoom the y axis on the shown values (bars start off-axis), within 0–100%."""
    finite = pd.concat(shown).dropna() if shown else pd.Series(dtype=float)
    if finite.empty:
        return
    low, high = float(finite.min()), float(finite.max())
    span = max(high - low, min_span)
    ax.set_ylim(max(low - 0.3 * span, 0.0), min(high + 0.3 * span, 100.0 + 0.02 * span))


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


def finish(fig, axes, title: str) -> None:
    fig.suptitle(title, fontsize=FONT["suptitle"])
    for ax in np.ravel(axes):
        if not ax.has_data() and not ax.texts:   # a spare grid cell (a cell with a note stays)
            ax.set_visible(False)
        ax.grid(True, alpha=0.3)
