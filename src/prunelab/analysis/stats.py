"""Mean, sample std and 95 % t-interval over seeds, with unfinished runs counted instead of averaged away.

Every figure reduces its rows the same way: per group, over the rows whose status is ``ok`` and whose value
was measured, the mean, the sample std (ddof=1: the seeds are a sample of the seeds one could have drawn)
and the two-sided 95 % Student-t interval of the mean (``ci_low``/``ci_high``; undefined, NaN, for n < 2).
``n`` counts those rows and ``missing`` the others, with ``missing_why`` saying what they were (diverged,
skipped, not measured). A group whose every run is missing stays in the result with a NaN mean, so figures
and CSVs show the gap. Figures draw the interval as their error bar and say so.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd

CONFIDENCE = 0.95
ERROR_BAR = "95 % t-interval of the mean over seeds"


def _why(statuses: pd.Series) -> str:
    counts = statuses.value_counts()
    return ", ".join(f"{status} ×{count}" for status, count in sorted(counts.items()))


def summarise(rows: pd.DataFrame, keys: list[str], value: str) -> pd.DataFrame:
    """Per ``keys`` group: mean, std (ddof=1), ci_low/ci_high (95 % t), n (usable runs), missing, missing_why."""
    measured = rows[value].notna()
    usable = rows["status"].eq("ok") & measured
    reason = rows["status"].where(~rows["status"].eq("ok") | measured, "not measured")
    frame = rows.assign(_value=rows[value].where(usable), _usable=usable, _reason=reason.where(~usable))
    groups = frame.groupby(keys, dropna=False, sort=True)
    out = groups.agg(mean=("_value", "mean"), n=("_usable", "sum"), runs=("_usable", "size"))
    out["std"] = groups["_value"].std(ddof=1)
    half = t_half_width(out["std"], out["n"])
    out["ci_low"], out["ci_high"] = out["mean"] - half, out["mean"] + half
    out["missing"] = out["runs"] - out["n"]
    out["missing_why"] = groups["_reason"].agg(lambda r: _why(r.dropna()))
    out["n"] = out["n"].astype(int)
    out["missing"] = out["missing"].astype(int)
    return out.drop(columns="runs").reset_index()[
        [*keys, "mean", "std", "ci_low", "ci_high", "n", "missing", "missing_why"]
    ]


def t_half_width(std, n, confidence: float = CONFIDENCE):
    """Half-width of the two-sided Student-t interval of a mean from its sample std and n (NaN for n < 2)."""
    from scipy import stats as scipy_stats  # here: the Snakefile imports the figure registry to parse a config

    n = np.asarray(n, dtype=float)
    dof = np.where(n >= 2, n - 1, np.nan)
    return scipy_stats.t.ppf(0.5 + confidence / 2, dof) * np.asarray(std, dtype=float) / np.sqrt(n)


def missing_note(missing: int, why: str) -> str:
    """The legend/tick suffix that flags runs left out of a point or series."""
    return f" [{missing} run(s) missing: {why}]" if missing else ""


def hparam(rows: pd.DataFrame, name: str) -> pd.Series:
    """Hyperparameter ``name`` of each row, from the JSON ``hparams`` column (NaN where the method lacks it)."""

    def one(text):
        if not isinstance(text, str):
            return float("nan")
        value = json.loads(text).get(name)
        return float("nan") if value is None else value

    return rows["hparams"].map(one)


def other_hparams(rows: pd.DataFrame, name: str) -> pd.Series:
    """The ``hparams`` JSON without ``name``: what else distinguishes two pruning settings of one method."""

    def one(text):
        if not isinstance(text, str):
            return ""
        rest = {k: v for k, v in json.loads(text).items() if k != name}
        return json.dumps(rest, sort_keys=True) if rest else ""

    return rows["hparams"].map(one)
