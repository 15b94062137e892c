"""Put published values beside ours: same labels → published mean, std, citation and the difference.

Only verified values reach this point (``references`` filters the unverified ones before any figure sees
them). ``mode`` is the figure option ``published``: ``matching`` joins on the dataset too, ``any_dataset``
ignores it (for proxy runs, e.g. a smoke suite on digits; the paper's dataset is kept in
``published_dataset``), ``none`` leaves the published columns empty.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

# the figure option of every type that overlays published values
PUBLISHED = {
    "enum": ["matching", "any_dataset", "none"],
    "default": "matching",
    "description": "overlay published values: 'matching' = same model and dataset only; 'any_dataset' = "
    "same model on whatever dataset we ran (labelled with the paper's dataset); 'none' = "
    "no overlay",
}

COLUMNS = [
    "published_mean",
    "published_std",
    "published_dataset",
    "difference",
    "published_citation",
    "published_source",
]


def attach(values: pd.DataFrame, published: pd.DataFrame, on: dict[str, str], mode: str) -> pd.DataFrame:
    """``values`` plus the published columns; ``on`` maps our column → the published table's column.

    ``difference`` = ours_mean − published_mean. A published key matching several of our rows is fine (e.g.
    the unpruned accuracy repeated for architectures A and B); two published values for one of our rows would
    be a bug in ``references`` and raises.
    """
    out = values.copy()
    if mode == "none" or published.empty:
        for column in COLUMNS:
            out[column] = np.nan
        return out
    pairs = dict(on)
    if mode == "matching":
        pairs["dataset"] = "dataset"
    right = published.rename(
        columns={
            "value": "published_mean",
            "std": "published_std",
            "citation": "published_citation",
            "source": "published_source",
        }
    )
    right = right.assign(published_dataset=right["dataset"])
    keys = list(pairs)
    right = right.rename(columns={theirs: f"_key_{ours}" for ours, theirs in pairs.items()})
    left = out.assign(**{f"_key_{k}": _key(out[k]) for k in keys})
    right = right.assign(**{f"_key_{k}": _key(right[f"_key_{k}"]) for k in keys})
    right = right[[f"_key_{k}" for k in keys] + [c for c in COLUMNS if c != "difference"]]
    merged = left.merge(right, on=[f"_key_{k}" for k in keys], how="left", validate="many_to_one")
    merged["difference"] = merged["ours_mean"] - merged["published_mean"]
    return merged.drop(columns=[f"_key_{k}" for k in keys])[[*values.columns, *COLUMNS]]


def _key(column: pd.Series) -> pd.Series:
    """Join keys that survive a CSV round trip: floats rounded, everything else as text."""
    if pd.api.types.is_float_dtype(column):
        return column.round(6).map(lambda v: f"{v:g}")
    return column.astype(str)
