"""What a claim is: a paper's statement as data that selects table rows and says how they must compare.

A claim names the rows it applies to by semantic table columns (model, dataset, stage, method, branch_type,
target_sparsity, dense_lr, isometry, level, ``hp_<name>`` for pruning hyperparameters, …), never by config
names, so one claim applies to the demo, the smoke and full suites and the Fashion-MNIST record alike. It is
evaluated separately in every *cell* (each distinct combination of its ``per`` columns among the rows it
selects), and every cell gets one verdict.

Comparison kinds (``d`` is the contrast Σ weight·side, ``tol`` the claim's tolerance):

* ``at_least``: d ≥ −tol ("A is comparable or better than B": A − B ≥ −tol; tol = 0 for "A beats B");
* ``equivalent``: |d| ≤ tol (with a published ``target``, d = ours − published: the number is reproduced);
* ``decreasing``: the side's value falls as ``along`` grows: every step between neighbouring values
  is an ``at_least`` test of y(xᵢ) − y(xᵢ₊₁) ≥ −tol;
* ``rank_correlation``: within each replicate, Spearman ρ between ``along`` and ``quantity`` across the
  settings (rows) of the side; the claim is mean ρ ≥ −tol (one ρ per replicate, t interval over them).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

KINDS = ("at_least", "equivalent", "decreasing", "rank_correlation")
# what a test of a claim can conclude, in the order pages and summaries list them
VERDICTS = ("reproduced", "holds", "inconclusive", "contradicted", "not comparable", "not run")


def value_text(value) -> str:
    """A table value as a reader writes it: 1 not 1.0, 0.95 not 0.9500000001, NaN as 'unset'."""
    if isinstance(value, (float, np.floating)):
        return "unset" if math.isnan(value) else f"{value:g}"
    return str(value)


@dataclass(frozen=True)
class Extreme:
    """The smallest or largest value of a column within the cell ("the small initial LR", "most steps")."""

    which: str  # "min" | "max"

    def __str__(self) -> str:
        return self.which


@dataclass(frozen=True)
class AtMost:
    """Every value ≤ ``bound`` ("moderate pruning ratios")."""

    bound: float

    def __str__(self) -> str:
        return f"≤ {self.bound:g}"


@dataclass(frozen=True)
class AtLeast:
    """Every value ≥ ``bound`` ("high sparsity")."""

    bound: float

    def __str__(self) -> str:
        return f"≥ {self.bound:g}"


@dataclass(frozen=True)
class Best:
    """Among the settings that differ in ``over``, the one with the best mean ``by`` (a validation measure:
    a claim never picks its setting on the test set)."""

    by: str
    over: tuple[str, ...]

    def __str__(self) -> str:
        return f"best {'/'.join(self.over)} by {self.by}"


@dataclass(frozen=True)
class Select:
    """Rows of one side: ``column → value`` (equality), a tuple (any of), or Extreme/AtMost/AtLeast; ``best``
    then keeps one setting chosen on validation data."""

    where: tuple[tuple[str, object], ...]
    best: Best | None = None

    @classmethod
    def of(cls, best: Best | None = None, **where) -> Select:
        return cls(tuple(where.items()), best)

    def describe(self) -> str:
        parts = [
            f"{k} {v}"
            if isinstance(v, (AtMost, AtLeast))
            else f"{k}="
            + ("|".join(map(value_text, v)) if isinstance(v, tuple) and not k.startswith("hp_") else value_text(v))
            for k, v in self.where
        ]
        return ", ".join(parts + ([str(self.best)] if self.best else []))


@dataclass(frozen=True)
class Target:
    """A published number: mean (± sample std over ``runs`` runs where the paper gives them)."""

    value: float
    std: float | None
    runs: int | None
    runs_source: str = ""

    def describe(self) -> str:
        spread = f" ± {self.std:g} (std over {self.runs} runs{self.runs_source})" if self.std is not None else ""
        return f"{self.value:g}{spread}"


@dataclass(frozen=True)
class Setting:
    """Where a paper published the claim: dataset, dense training epochs and seeds (for the deviation ledger
    and for deciding whether a published number can be matched at all)."""

    datasets: tuple[str, ...]
    epochs: int | None  # dense training epochs (None: several or unknown; see ``schedule``)
    seeds: int | None
    schedule: str = ""

    def describe(self) -> str:
        epochs = f", {self.epochs} dense epochs" if self.epochs else ""
        seeds = f", {self.seeds} seeds" if self.seeds else ""
        return f"{'/'.join(self.datasets)}{epochs}{seeds}" + (f" ({self.schedule})" if self.schedule else "")


@dataclass(frozen=True)
class Claim:
    """One statement of a paper, as the paper states it, and how prunelab tests it."""

    id: str
    paper: str
    where: str  # table / figure / section
    statement: str  # the claim in words
    quantity: str  # table column (or derived quantity) compared
    kind: str  # one of KINDS
    sides: tuple[tuple[float, Select], ...]  # (weight, rows); contrast d = Σ weight · side
    tolerance: float
    tolerance_source: str  # why this tolerance
    source: str  # provenance tag of the statement or number
    setting: Setting
    scope: Select = field(default_factory=Select.of)  # rows every side shares
    per: tuple[str, ...] = ("model", "dataset")  # one verdict per distinct combination of these
    target: Target | None = None  # a published number (equivalent kind only)
    relative: bool = False  # tolerance is a fraction of the published value
    along: str | None = None  # decreasing / rank_correlation kinds: the x column

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f"claim {self.id}: kind {self.kind!r} is not one of {KINDS}")
        if (self.kind in ("decreasing", "rank_correlation")) != (self.along is not None):
            raise ValueError(f"claim {self.id}: 'along' is set exactly for decreasing and rank_correlation claims")
        if self.target is not None and self.kind != "equivalent":
            raise ValueError(f"claim {self.id}: a published target needs the equivalent kind")

    def comparison(self) -> str:
        """The test in symbols, e.g. ``[branch_type=scratch_b] − [branch_type=finetune] ≥ −0.5``."""
        names = " ".join(
            f"{'+' if w > 0 else '−'} {'' if abs(w) == 1 else f'{abs(w):g}·'}[{s.describe()}]" for w, s in self.sides
        ).lstrip("+ ")
        tol = f"{self.tolerance:g}" + (" × published" if self.relative else "")
        floor = f"−{tol}" if self.tolerance else "0"  # "≥ 0", never "≥ −0"
        if self.kind == "rank_correlation":
            return (
                f"mean over seeds of Spearman ρ({self.along}, {self.quantity}) across "
                f"[{self.sides[0][1].describe()}] ≥ {floor}"
            )
        if self.kind == "decreasing":
            return f"[{self.sides[0][1].describe()}] decreasing in {self.along} (each step ≥ {floor})"
        if self.kind == "equivalent":
            against = f" − published {self.target.describe()}" if self.target else ""
            return f"|{names}{against}| ≤ {tol}"
        return f"{names} ≥ {floor}"

    def unit(self) -> str:
        """The unit of the contrast (what the estimate and its interval are in)."""
        return "ρ" if self.kind == "rank_correlation" else QUANTITIES.get(self.quantity, (self.quantity, ""))[1]

    def in_words(self) -> str:
        """What is compared and when the claim counts as confirmed, in words (the page's reading of
        ``comparison()``): the quantity, each side's rows, the sign of the difference and the tolerance."""
        what = QUANTITIES.get(self.quantity, (self.quantity, ""))[0]
        unit = f" {self.unit()}" if self.unit() not in ("", "ρ") else ""
        tol = f"{self.tolerance:g} × the published value" if self.relative else f"{self.tolerance:g}{unit}"
        scope = f" (among rows with {self.scope.describe()})" if self.scope.where or self.scope.best else ""
        if self.kind == "rank_correlation":
            return (
                f"within each dense run, Spearman's ρ between {self.along} and {what} across the settings"
                f"{scope}, averaged over dense runs; the claim holds when ρ is at least "
                f"{'−' + tol if self.tolerance else '0'}"
            )
        if self.kind == "decreasing":
            return (
                f"{what}{scope} at each {self.along} minus {what} at the next larger {self.along}; the claim "
                f"holds when every step is at least {'−' + tol if self.tolerance else '0 (strictly falling)'}"
            )
        terms = " ".join(
            f"{'plus' if w > 0 else 'minus'} {'' if abs(w) == 1 else f'{abs(w):g} × '}{what} of "
            f"[{s.describe() or 'the rows'}]"
            for w, s in self.sides
        ).removeprefix("plus ")
        if self.kind == "equivalent" and self.target:
            return (
                f"our {what}{scope} minus the published {self.target.describe()}; reproduced when the whole "
                f"95 % interval of the difference lies within ±{tol}"
            )
        if self.kind == "equivalent":
            return f"{terms}{scope}; holds when the whole 95 % interval lies within ±{tol}"
        floor = f"−{tol}" if self.tolerance else "0"
        return (
            f"{terms}{scope}, paired by dense run where the sides share them; holds when the 95 % interval "
            f"lies above {floor}"
        )


# quantity column → (what it is, unit of a difference of it)
QUANTITIES = {
    "test_acc": ("test accuracy", "pp"),
    "best_test_acc": ("test accuracy at the best-validation epoch", "pp"),
    "val_acc": ("validation accuracy", "pp"),
    "jsv_mean": ("mean Jacobian singular value", ""),
    "scratch_b_epoch_factor": ("Scratch-B epoch factor (dense FLOPs / pruned FLOPs − 1)", ""),
    "param_density": ("fraction of parameters kept (pruned / dense)", ""),
}
