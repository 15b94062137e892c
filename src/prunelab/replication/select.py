"""From a suite's tidy tables to per-replicate values of each side of a claim, cell by cell.

A replicate is a dense run (``dense_run``): every pruned net and branch grown from it shares its seed. Only
rows with status ``ok`` and a measured value count; the others are reported, never averaged. A side that
matches several rows of one replicate (e.g. a setting grid it does not name) is averaged per replicate.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd

from prunelab.replication.claim import AtLeast, AtMost, Best, Claim, Extreme, Select, value_text


class NotRun(Exception):
    """The rows a claim needs are not in this suite's tables (the message says which)."""


def _hparams(text) -> dict:
    return json.loads(text) if isinstance(text, str) and text else {}


def prepare(tables: pd.DataFrame) -> pd.DataFrame:
    """Tables with ``hp_<name>`` columns (lists as tuples) and derived quantities on pruned rows:
    ``scratch_b_epoch_factor`` (dense ops / pruned ops − 1) and ``param_density`` (pruned / dense params)."""
    rows = tables.copy()
    expanded = rows["hparams"].map(_hparams) if "hparams" in rows else pd.Series([{}] * len(rows), index=rows.index)
    for name in sorted({k for h in expanded for k in h}):
        rows[f"hp_{name}"] = expanded.map(lambda h: tuple(h[name]) if isinstance(h.get(name), list) else h.get(name))
    dense = rows[rows["stage"] == "dense"].drop_duplicates("dense_run").set_index("dense_run")
    pruned = rows["stage"] == "pruned"
    rows["scratch_b_epoch_factor"] = (rows["dense_run"].map(dense["ops"]) / rows["ops"] - 1).where(pruned)
    rows["param_density"] = (rows["params"] / rows["dense_run"].map(dense["params"])).where(pruned)
    return rows


def _match(rows: pd.DataFrame, column: str, value) -> pd.Series:
    if column not in rows:
        return pd.Series(False, index=rows.index)
    values = rows[column]
    if isinstance(value, tuple) and not column.startswith("hp_"):
        return values.isin(value)
    if isinstance(value, AtMost):
        return values <= value.bound + 1e-12
    if isinstance(value, AtLeast):
        return values >= value.bound - 1e-12
    if isinstance(value, float):
        return np.isclose(values.astype(float), value, rtol=0, atol=1e-9)
    return values.map(lambda v: v == value)


def apply(rows: pd.DataFrame, select: Select, compared: bool = True) -> pd.DataFrame:
    """The rows ``select`` names: plain conditions first, then extremes within what is left, then ``best``.

    On a compared side (``compared``), an extreme needs two values to choose from: "the small LR" of a suite
    with one LR is no small LR. A claim's scope ("the fewest steps") takes a single value as it is."""
    for column, value in select.where:
        if not isinstance(value, Extreme):
            rows = rows[_match(rows, column, value)]
    for column, value in select.where:
        if isinstance(value, Extreme) and len(rows):
            present = rows[column].dropna().unique()
            if compared and len(present) < 2:
                raise NotRun(f"needs at least two values of {column} (this suite has {values_text(present)})")
            if not len(present):  # nothing to pick the extreme of: no row qualifies
                return rows.iloc[0:0]
            pick = present.min() if value.which == "min" else present.max()
            rows = rows[rows[column] == pick]
    return _best(rows, select.best) if select.best and len(rows) else rows


def _best(rows: pd.DataFrame, best: Best) -> pd.DataFrame:
    """Keep the setting (combination of ``best.over``) with the highest mean ``best.by``."""
    keys = [c for c in best.over if c in rows]
    if not keys:
        return rows
    means = rows.groupby(keys, dropna=False)[best.by].mean()
    if means.dropna().empty:
        raise NotRun(f"no {best.by} measured to choose {'/'.join(keys)} on")
    chosen = means.idxmax()
    chosen = chosen if isinstance(chosen, tuple) else (chosen,)
    keep = pd.Series(True, index=rows.index)
    for column, value in zip(keys, chosen):
        keep &= rows[column].isna() if isinstance(value, float) and math.isnan(value) else rows[column] == value
    return rows[keep]


def cells(rows: pd.DataFrame, claim: Claim) -> list[tuple[dict, pd.DataFrame]]:
    """The claim's cells: ``(labels, rows)`` per distinct combination of ``claim.per`` among its scope."""
    scoped = apply(rows, claim.scope, compared=False)
    present = [c for c in claim.per if c in scoped]
    out = []
    for key, group in scoped.groupby(present, dropna=False, sort=True) if len(scoped) else []:
        key = key if isinstance(key, tuple) else (key,)
        out.append((dict(zip(present, key)), group))
    return out


def replicate_values(rows: pd.DataFrame, quantity: str) -> tuple[pd.Series, int]:
    """Per dense run, the mean ``quantity`` over usable rows; and how many rows were unusable."""
    usable = rows["status"].eq("ok") & rows[quantity].notna() if quantity in rows else rows["status"].eq("__")
    values = rows[usable].groupby("dense_run")[quantity].mean()
    return values, int((~usable).sum())


def replicate_correlations(rows: pd.DataFrame, x: str, y: str) -> tuple[pd.Series, int]:
    """Per dense run, Spearman ρ between ``x`` and ``y`` across its usable rows (settings); runs with fewer
    than three usable settings give no ρ. Also how many rows were unusable."""
    from scipy.stats import spearmanr

    usable = (
        rows["status"].eq("ok") & rows[x].notna() & rows[y].notna() if {x, y} <= set(rows) else rows["status"].eq("__")
    )
    rho = {
        run: float(spearmanr(group[x], group[y]).statistic)
        for run, group in rows[usable].groupby("dense_run")
        if len(group) >= 3
    }
    return pd.Series(rho, dtype=float).dropna(), int((~usable).sum())


def values_text(values, most: int = 8) -> str:
    """Distinct values, sorted, at most ``most`` of them (then how many more)."""
    distinct = sorted({value_text(v) for v in values}, key=lambda t: (_number(t) is None, _number(t) or 0, t))
    more = f" and {len(distinct) - most} more" if len(distinct) > most else ""
    return ", ".join(distinct[:most]) + more if distinct else "none"


def _number(text: str):
    try:
        return float(text)
    except ValueError:
        return None


def describe_cell(labels: dict) -> str:
    """``model=lenet_300_100, target_sparsity=0.9``; a label the rows leave unset (NaN) names nothing."""
    return ", ".join(
        f"{k}={value_text(v)}" for k, v in labels.items() if not (isinstance(v, (float, np.floating)) and math.isnan(v))
    )


def _condition(column: str, value) -> str:
    if isinstance(value, tuple) and not column.startswith("hp_"):
        return f"{column}={'|'.join(map(value_text, value))}"
    if isinstance(value, (AtMost, AtLeast)):
        return f"{column} {value}"
    return f"{column}={value_text(value)}"


def _matches(rows: pd.DataFrame, column: str, value) -> pd.Series:
    if isinstance(value, float) and math.isnan(value):  # a cell label the rows leave unset
        return rows[column].isna() if column in rows else pd.Series(True, index=rows.index)
    return _match(rows, column, value)


def _plain(select: Select) -> list[tuple[str, object]]:
    return [(column, value) for column, value in select.where if not isinstance(value, Extreme)]


def why_empty(rows: pd.DataFrame, side: Select, scope: Select, labels: dict | None = None) -> str:
    """Why no row is left for ``side`` within ``scope`` and the cell ``labels``: the first restriction that
    removes the last of the side's rows, and the values the side's rows have there instead, e.g.
    ``method=sipp_det ran with target_sparsity = 0.5, 0.9, 0.97; this cell needs target_sparsity=0.95``.

    Restrictions apply in order: the side's own (then the suite's values are shown), the claim's scope, the
    cell's labels; the values shown are those left by every earlier restriction on another column."""
    restrictions = (
        [(c, v, "the compared side") for c, v in _plain(side)]
        + [(c, v, "the claim") for c, v in _plain(scope)]
        + [(c, v, "this cell") for c, v in (labels or {}).items()]
    )
    kept = rows
    for i, (column, value, who) in enumerate(restrictions):
        narrowed = kept[_matches(kept, column, value)]
        if narrowed.empty:
            before = rows
            for other, bound, _ in restrictions[:i]:
                if other != column:
                    before = before[_matches(before, other, bound)]
            subject = (
                ", ".join(
                    _condition(c, v) for c, v, who_ in restrictions[:i] if who_ == "the compared side" and c != column
                )
                or "this suite"
            )
            present = values_text(before[column].dropna()) if column in before else "none"
            return f"{subject} ran with {column} = {present}; {who} needs {_condition(column, value)}"
        kept = narrowed
    for column, value in side.where + scope.where:
        if isinstance(value, Extreme) and (column not in kept or kept[column].isna().all()):
            return f"no row there has a value of {column} (the claim takes its {value})"
    return f"no rows with {side.describe() or scope.describe() or 'any labels'}"
