"""What a figure type is: a plot function from tidy rows to a figure plus exactly the values it shows, and
where the figure types are: every module of :mod:`prunelab.analysis` that exports ``FIGURE_TYPES``.

``figures.draw`` writes the figure as PNG and PDF, ``values`` as ``<name>.csv`` (ours and, where published
numbers exist, published and the difference side by side), and the type's ``caption`` and the ``notes`` as
``<name>.summary.rst``, which the report's one caption template includes. Adding a figure type is adding a
module (or a ``FigureType`` to a paper module's list): no registry, schema or workflow edit is needed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from typing import Any

import pandas as pd

from prunelab.discovery import declared
from prunelab.errors import ConfigError

LIU = "Liu et al. 2019: Rethinking the Value of Network Pruning"
LAURENT = "Laurent et al. 2020: Revisiting Loss Modelling for Unstructured Pruning"
SIPP = "Baykal, Liebenwein et al.: SiPPing Neural Networks"
WANG = "Wang et al. 2021: Dynamical Isometry, the Missing Ingredient for Neural Network Pruning"
GENERIC = "Accuracy vs sparsity"

METRIC_LABEL = {"test_acc": "test accuracy (%)", "best_test_acc": "test accuracy at best-validation epoch (%)"}


@dataclass(frozen=True)
class Request:
    """One figure of a suite: its config name, resolved options, the accuracy column it plots and the
    experiments whose tables it reads."""

    name: str
    type: str
    options: dict
    metric: str = "test_acc"
    experiments: tuple[str, ...] = ()

    def error(self, problem: str) -> ConfigError:
        """One line naming the figure and where to look: what the figure needs is not in its tables."""
        return ConfigError(
            f"figure {self.name} ({self.type}): {problem}; check figures.{self.name}.experiments "
            f"and figures.{self.name}.options"
        )

    def require(self, rows: pd.DataFrame, what: str) -> pd.DataFrame:
        """``rows`` unless empty: a figure without its rows is a config mistake, reported in one line."""
        if rows.empty:
            raise self.error(f"its tables have no {what}")
        return rows

    @property
    def metric_label(self) -> str:
        return METRIC_LABEL[self.metric]


@dataclass
class Drawn:
    figure: Any  # a matplotlib Figure
    values: pd.DataFrame  # exactly the plotted numbers
    notes: list[str] = field(default_factory=list)  # sentences for the report (comparison with published)
    remark: str = ""  # drawn under the figure after n and the bars: how to read what is drawn


@dataclass(frozen=True)
class FigureType:
    """A figure type. ``options`` is the JSON-schema fragment of ``figures.<name>.options``
    (:func:`prunelab.config.fragments.closed`, each option with its default and description); ``caption`` is the
    report's reStructuredText paragraph, a ``str.format`` template of ``{metric}``, ``{experiments}`` and the
    options by name (filled in readable form by ``figures.draw``); ``title`` heads a figure whose config has no
    ``title:``."""

    name: str
    paper: str  # report category
    plot: Callable[[pd.DataFrame, Request], Drawn]
    options: dict
    caption: str
    title: str = ""  # the figure's title where its config gives none (never the config key)


def subset(choices, default: list, description: str) -> dict:
    """The fragment of an option that picks a non-empty list from ``choices``."""
    return {
        "type": "array",
        "items": {"enum": list(choices)},
        "minItems": 1,
        "default": default,
        "description": description,
    }


@cache
def figure_types() -> dict[str, FigureType]:
    """Every figure type, discovered once from the modules of :mod:`prunelab.analysis` exporting
    ``FIGURE_TYPES``; two declarations of one name are a programming error, not a silent override."""
    return declared("prunelab.analysis", FigureType, "FIGURE_TYPES")
