"""Intervals of a contrast between cells, paired or not, with published numbers folded in as standard errors.

A claim compares weighted cells (ours over seeds, or a published mean): d = Σ wᵢ·cellᵢ. Its 95 % interval is
a Student-t interval:

* **paired** when every cell of ours has the same replicates (dense runs): d is computed per replicate and
  its one-sample t interval taken (n − 1 dof). Methods pruned from one dense net share that net's luck, which
  the pairing cancels;
* **unpaired** otherwise: the variances of the cell means add and the dof come from Welch–Satterthwaite.

A published "mean ± std over k runs" enters as a mean with standard error std/√k (k − 1 dof); a published
number without a std is treated as exact. ``seeds_needed`` answers "how many seeds would decide this" at the
observed spread, and ``holm`` controls the family-wise error of the ``contradicted`` verdicts.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import stats

CONFIDENCE = 0.95
MAX_SEEDS = 10_000  # beyond this "seeds needed" reads as "no practical number of seeds"


@dataclass(frozen=True)
class Part:
    """One weighted term of a contrast: its contribution to the estimate, the variance of that contribution
    and its degrees of freedom (inf for an exact published number)."""

    estimate: float
    variance: float
    dof: float


@dataclass(frozen=True)
class Interval:
    estimate: float
    low: float
    high: float
    se: float
    dof: float
    method: str  # "paired t", "Welch t", "one-sample t"

    def p_below(self, bound: float) -> float:
        """Two-sided-equivalent p-value that the true value lies below ``bound`` (p < 0.05 ⇔ high < bound)."""
        return min(1.0, 2 * _one_sided(self.estimate - bound, self.se, self.dof))

    def p_above(self, bound: float) -> float:
        """Two-sided-equivalent p-value that the true value lies above ``bound`` (p < 0.05 ⇔ low > bound)."""
        return min(1.0, 2 * _one_sided(bound - self.estimate, self.se, self.dof))


def _one_sided(distance: float, se: float, dof: float) -> float:
    """P(T ≤ distance/se): small when the estimate sits far below the bound in units of its standard error."""
    if se == 0 or not math.isfinite(se):
        return 0.0 if distance < 0 else 1.0
    return float(stats.t.cdf(distance / se, dof))


def t_quantile(dof: float, confidence: float = CONFIDENCE) -> float:
    return float(stats.norm.ppf(0.5 + confidence / 2) if math.isinf(dof) else stats.t.ppf(0.5 + confidence / 2, dof))


def sample_part(values, weight: float = 1.0) -> Part:
    """A cell of ours: weight × its mean over n seeds, variance w²·s²/n (s with ddof 1), n − 1 dof."""
    values = np.asarray(values, dtype=float)
    n = len(values)
    variance = float(np.var(values, ddof=1)) / n if n >= 2 else math.nan
    return Part(weight * float(values.mean()), weight**2 * variance, n - 1.0)


def published_part(value: float, std: float | None, runs: int | None, weight: float = 1.0) -> Part:
    """A published mean ± std over ``runs``: standard error std/√runs; no std (or no k) means exact."""
    if std is None or runs is None or not math.isfinite(std):
        return Part(weight * value, 0.0, math.inf)
    return Part(weight * value, weight**2 * std**2 / runs, runs - 1.0)


def welch_dof(parts: list[Part]) -> float:
    """Welch–Satterthwaite: (Σ vᵢ)² / Σ (vᵢ² / dofᵢ), over the parts that carry variance."""
    varying = [p for p in parts if p.variance > 0]
    if not varying:
        return min((p.dof for p in parts), default=math.inf)
    return sum(p.variance for p in varying) ** 2 / sum(p.variance**2 / p.dof for p in varying)


def combine(parts: list[Part], method: str, confidence: float = CONFIDENCE) -> Interval:
    """The t interval of Σ parts (independent parts: variances add)."""
    estimate = sum(p.estimate for p in parts)
    se = math.sqrt(sum(p.variance for p in parts))
    dof = welch_dof(parts)
    half = t_quantile(dof, confidence) * se
    return Interval(estimate, estimate - half, estimate + half, se, dof, method)


def paired_interval(differences, published: list[Part] = (), confidence: float = CONFIDENCE) -> Interval:
    """Per-replicate contrasts (plus any published parts): a one-sample t interval of their mean."""
    parts = [sample_part(differences), *published]
    return combine(parts, "paired t" if len(differences) else "one-sample t", confidence)


def unpaired_interval(
    cells: list[tuple[float, np.ndarray]], published: list[Part] = (), confidence: float = CONFIDENCE
) -> Interval:
    """Independent cells of ours ``(weight, values)`` plus published parts: Welch t interval of the contrast."""
    parts = [sample_part(values, weight) for weight, values in cells]
    method = "Welch t" if len(cells) > 1 else "one-sample t"
    return combine([*parts, *published], method, confidence)


def seeds_needed(
    distance: float, per_seed_variance: float, fixed_variance: float = 0.0, confidence: float = CONFIDENCE
) -> int | None:
    """Fewest seeds n (≥ 2) whose interval half-width t(n−1)·√(V/n + F) falls below ``distance`` — the gap
    between the estimate and the boundary that decides the claim — if the spread stays as observed.

    V is the per-seed variance of the contrast (paired differences, or Σ wᵢ²sᵢ² with n seeds in every cell), F
    the variance that more seeds of ours cannot shrink (published standard errors). None: no n up to
    MAX_SEEDS decides it (the estimate sits on the boundary, or F alone is too wide)."""
    if not (distance > 0 and math.isfinite(per_seed_variance)):
        return None
    if t_quantile(math.inf, confidence) * math.sqrt(fixed_variance) >= distance:
        return None
    low, high = 2, MAX_SEEDS
    if t_quantile(high - 1, confidence) * math.sqrt(per_seed_variance / high + fixed_variance) >= distance:
        return None
    while low < high:  # the half-width shrinks monotonically in n
        mid = (low + high) // 2
        if t_quantile(mid - 1, confidence) * math.sqrt(per_seed_variance / mid + fixed_variance) < distance:
            high = mid
        else:
            low = mid + 1
    return low


def holm(p_values) -> np.ndarray:
    """Holm's step-down adjusted p-values: sorted ascending, pᵢ·(m − i) made monotone, capped at 1.
    NaN entries (tests that could not contradict) are not part of the family."""
    p = np.asarray(p_values, dtype=float)
    out = np.full_like(p, np.nan)
    tested = np.flatnonzero(np.isfinite(p))
    order = tested[np.argsort(p[tested], kind="stable")]
    m = len(order)
    running = 0.0
    for rank, index in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p[index]))
        out[index] = running
    return out
