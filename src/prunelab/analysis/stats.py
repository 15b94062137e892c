"""Mean ± std over seeds, with the runs that did not finish counted instead of averaged away.

Every figure reduces its rows the same way: per group, the mean and the population std (ddof=0, the
convention of the one published plotting script we could read, Wang et al.'s) of the rows whose status is
``ok`` and whose value was measured; ``n`` counts those rows and ``missing`` the others, with ``missing_why``
saying what they were (diverged, skipped, not measured). A group whose every run is missing stays in the
result with a NaN mean, so figures and CSVs show the gap.
"""

from __future__ import annotations

import json

import pandas as pd


def _why(statuses: pd.Series) -> str:
    counts = statuses.value_counts()
    return ", ".join(f"{status} ×{count}" for status, count in sorted(counts.items()))


def summarise(rows: pd.DataFrame, keys: list[str], value: str) -> pd.DataFrame:
    """Per ``keys`` group: mean, std (ddof=0), n (usable runs), missing and missing_why."""
    measured = rows[value].notna()
    usable = rows["status"].eq("ok") & measured
    reason = rows["status"].where(~rows["status"].eq("ok") | measured, "not measured")
    frame = rows.assign(_value=rows[value].where(usable), _usable=usable, _reason=reason.where(~usable))
    groups = frame.groupby(keys, dropna=False, sort=True)
    out = groups.agg(mean=("_value", "mean"), n=("_usable", "sum"), runs=("_usable", "size"))
    out["std"] = groups["_value"].std(ddof=0)
    out["missing"] = out["runs"] - out["n"]
    out["missing_why"] = groups["_reason"].agg(lambda r: _why(r.dropna()))
    out["n"] = out["n"].astype(int)
    out["missing"] = out["missing"].astype(int)
    return out.drop(columns="runs").reset_index()[[*keys, "mean", "std", "n", "missing", "missing_why"]]


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
