"""The verdict rules: one verdict per claim and cell, decided on the 95 % interval of the claim's contrast.

* ``reproduced`` — a published number: the interval of (ours − published) lies inside ±tolerance (an
  equivalence test; an interval that merely overlaps the published one does not count, since it rewards
  having few seeds);
* ``holds`` — an ordinal or equivalence claim between our own cells holds and the interval excludes the
  reverse;
* ``contradicted`` — the interval lies wholly on the reverse side, and stays significant after Holm's
  adjustment over every test of the suite that could contradict;
* ``inconclusive`` — neither; the row says how many seeds would decide it at the observed spread. A cell
  with fewer than two seeds is always inconclusive: no verdict from one seed;
* ``not comparable`` — a published number measured in a setting ours does not match (stand-in data,
  shorter schedule): the interval is still shown, but the number cannot be matched;
* ``not run`` — the rows the claim needs are missing; the row says which.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from prunelab.replication import statistics as st
from prunelab.replication.claim import Claim, Select
from prunelab.replication.ledger import stand_in_only
from prunelab.replication.select import (
    NotRun,
    apply,
    cells,
    describe_cell,
    replicate_correlations,
    replicate_values,
    why_empty,
)

ALPHA = 1 - st.CONFIDENCE
MIN_SEEDS = 2


def evaluate(claim: Claim, rows: pd.DataFrame, comparable) -> list[dict]:
    """Result rows of ``claim`` on prepared ``rows``; ``comparable(claim, cell_rows)`` → '' or why not."""
    try:
        found = cells(rows, claim)
    except NotRun as missing:  # the scope itself needs what the suite lacks (e.g. a second T)
        return [_result(claim, {}, verdict="not run", why=str(missing))]
    if not found:
        stand_in = stand_in_only(claim, rows)
        if stand_in:
            return [_result(claim, {}, verdict="not comparable", why=stand_in)]
        return [_result(claim, {}, verdict="not run", why=why_empty(rows, Select.of(), claim.scope))]
    out = []
    for labels, group in found:
        if claim.kind == "decreasing":
            out += _decreasing(claim, labels, group, rows)
        else:
            out.append(_test(claim, labels, group, claim.sides, comparable(claim, group) if claim.target else "", rows))
    return out


def _decreasing(claim: Claim, labels: dict, group: pd.DataFrame, rows: pd.DataFrame) -> list[dict]:
    side = claim.sides[0][1]
    chosen = apply(group, side)
    xs = sorted(chosen[claim.along].dropna().unique())
    if len(xs) < 2:
        return [
            _result(
                claim,
                labels,
                verdict="not run",
                why=f"needs at least two values of {claim.along}",
                rows_from=rows_from(group),
            )
        ]
    steps = []
    for before, after in zip(xs, xs[1:]):
        pair = (
            (1.0, Select(side.where + ((claim.along, float(before)),))),
            (-1.0, Select(side.where + ((claim.along, float(after)),))),
        )
        steps.append(_test(claim, {**labels, claim.along: f"{before:g}→{after:g}"}, group, pair, "", rows))
    return steps


def _test(claim: Claim, labels: dict, group: pd.DataFrame, sides, not_comparable: str, rows: pd.DataFrame) -> dict:
    """One test of ``sides`` in the cell ``group`` (of all prepared ``rows``, which say why a side is missing)."""
    values, unusable, used = [], 0, []
    try:
        for weight, select in sides:
            side_rows = apply(group, select)
            if side_rows.empty:
                raise NotRun(
                    why_empty(rows, select, claim.scope, {k: v for k, v in labels.items() if k != claim.along})
                )
            used.append(side_rows)
            per_run, bad = (
                replicate_correlations(side_rows, claim.along, claim.quantity)
                if claim.kind == "rank_correlation"
                else replicate_values(side_rows, claim.quantity)
            )
            unusable += bad
            if per_run.empty and claim.kind == "rank_correlation":
                raise NotRun(f"needs at least 3 settings with {claim.along} and {claim.quantity} per dense run")
            if per_run.empty:
                raise NotRun(f"no usable {claim.quantity} for {select.describe()} ({bad} run(s) failed or unmeasured)")
            values.append((weight, per_run))
    except NotRun as missing:
        return _result(claim, labels, verdict="not run", why=str(missing), rows_from=rows_from(group))
    published = (
        [st.published_part(claim.target.value, claim.target.std, claim.target.runs, -1.0)] if claim.target else []
    )
    n = min(len(v) for _, v in values)
    runs = [set(v.index) for _, v in values]
    paired = len(values) > 1 and all(r == runs[0] for r in runs)
    if paired:
        index = sorted(runs[0])
        differences = sum(w * v.reindex(index).to_numpy() for w, v in values)
        interval = st.paired_interval(differences, published)
        per_seed = float(np.var(differences, ddof=1)) if n >= 2 else math.nan
    else:
        interval = st.unpaired_interval([(w, v.to_numpy()) for w, v in values], published)
        per_seed = sum(w**2 * float(np.var(v.to_numpy(), ddof=1)) for w, v in values) if n >= 2 else math.nan
    fixed = sum(p.variance for p in published)
    tol = claim.tolerance * abs(claim.target.value) if claim.relative and claim.target else claim.tolerance
    base = {
        "n": n,
        "estimate": interval.estimate,
        "ci_low": interval.low,
        "ci_high": interval.high,
        "interval": f"95 % {interval.method}" + (f" over {n} paired dense runs" if paired else ""),
        "tolerance_used": tol,
        "unusable_runs": unusable,
        "rows_from": rows_from(pd.concat(used)),
    }
    if not_comparable:  # whatever the seeds, a number from another setting cannot be matched
        return _result(claim, labels, **base, verdict="not comparable", why=not_comparable)
    if n < MIN_SEEDS:
        return _result(
            claim,
            labels,
            **base,
            verdict="inconclusive",
            why=f"{n} seed: no verdict from one seed; run at least {MIN_SEEDS} to estimate the spread",
        )
    return _result(claim, labels, **base, **_decide(claim, interval, tol, per_seed, fixed))


def _decide(claim: Claim, interval: st.Interval, tol: float, per_seed: float, fixed: float):
    lo, hi, est = interval.low, interval.high, interval.estimate
    if claim.kind == "equivalent":
        inside = lo > -tol and hi < tol
        p_reverse = min(1.0, min(interval.p_above(tol), interval.p_below(-tol)))
        distance = tol - abs(est) if abs(est) < tol else abs(est) - tol
        success = "reproduced" if claim.target else "holds"
    else:  # at_least (decreasing steps included)
        inside = lo > -tol
        p_reverse = interval.p_below(-tol)
        distance = abs(est + tol)
        success = "holds"
    if inside:
        return {"verdict": success, "why": "", "p_contradiction": p_reverse}
    needed = st.seeds_needed(distance, per_seed, fixed)
    why = (
        f"about {needed} seeds would decide it at the observed spread"
        if needed
        else "no practical number of seeds decides it at this estimate and spread"
    )
    return {"verdict": "inconclusive", "why": why, "p_contradiction": p_reverse}


def _result(claim: Claim, labels: dict, **values) -> dict:
    return {
        "claim": claim.id,
        "paper": claim.paper,
        "where": claim.where,
        "statement": claim.statement,
        "cell": describe_cell(labels),
        "quantity": claim.quantity,
        "comparison": claim.comparison(),
        "compared": claim.in_words(),
        "unit": claim.unit(),
        "published": claim.target.describe() if claim.target else "",
        "tolerance": claim.tolerance,
        "tolerance_source": claim.tolerance_source,
        "source": claim.source,
        **{
            k: values.get(k, math.nan)
            for k in ("n", "estimate", "ci_low", "ci_high", "tolerance_used", "p_contradiction")
        },
        "interval": values.get("interval", ""),
        "unusable_runs": values.get("unusable_runs", 0),
        "verdict": values["verdict"],
        "why": values.get("why", ""),
        "rows_from": values.get("rows_from", ""),
    }


def rows_from(rows: pd.DataFrame) -> str:
    """Where a test's rows come from, ``experiment/stage`` pairs (``methods/pruned; imp/branch``): what a figure
    drawn from those experiments and stages shows, so its caption can name the claims tested on it."""
    if rows.empty or "experiment" not in rows:
        return ""
    pairs = rows[["experiment", "stage"]].dropna().drop_duplicates().sort_values(["experiment", "stage"])
    return "; ".join(f"{e}/{s}" for e, s in pairs.itertuples(index=False))


def adjust(results: pd.DataFrame) -> pd.DataFrame:
    """Holm over every test that could contradict (a decided interval, not ``not comparable``): a test whose
    interval lies on the reverse side reads ``contradicted`` only if its Holm-adjusted p stays below ALPHA."""
    results = results.copy()
    family = results["verdict"].isin(["holds", "reproduced", "inconclusive"]) & results["p_contradiction"].notna()
    results["p_holm"] = st.holm(results["p_contradiction"].where(family))
    contradicted = family & (results["p_holm"] < ALPHA)
    results.loc[contradicted, "verdict"] = "contradicted"
    results.loc[contradicted, "why"] = [
        f"reverse excluded at Holm-adjusted p = {p:.3g} over {int(family.sum())} tests"
        for p in results.loc[contradicted, "p_holm"]
    ]
    near = family & ~contradicted & (results["p_contradiction"] < ALPHA)
    results.loc[near, "why"] = [
        f"reverse side at p = {p:.3g} but not after Holm (adjusted {q:.3g}); " + w
        for p, q, w in zip(results.loc[near, "p_contradiction"], results.loc[near, "p_holm"], results.loc[near, "why"])
    ]
    return results
