"""Where a suite's setting deviates from the setting each paper published its claims in.

Read from the suite's own tables (the dense rows say what was trained: model, dataset, epochs, seeds), so the
ledger describes what ran, not what a config meant to run. ``not_comparable`` is the rule that turns a
published-number claim into ``not comparable``: other data or a shorter dense schedule than the paper's.
``stand_in_only`` does the same for a published number whose network a stand-in suite (the demo and the smoke
suites train only on the embedded digits) never trains: no digits run can match it, so it is not comparable
rather than merely not run. A suite on real data that lacks the network reads ``not run``.
"""

from __future__ import annotations

import pandas as pd

from prunelab.replication.claim import Claim


def not_comparable(claim: Claim, rows: pd.DataFrame, tables: pd.DataFrame) -> str:
    """'' when ``rows`` (one cell) were produced in the claim's published setting, else why not."""
    reasons = []
    ours = sorted(set(rows["dataset"].dropna()))
    if any(d not in claim.setting.datasets for d in ours):
        reasons.append(f"data {', '.join(ours)} ≠ published {'/'.join(claim.setting.datasets)}")
    if claim.setting.epochs:
        dense = tables[(tables["stage"] == "dense") & tables["dense_run"].isin(rows["dense_run"])]
        shortest = dense["epochs"].min()
        if pd.notna(shortest) and shortest < claim.setting.epochs:
            reasons.append(f"dense training {shortest:g} epochs < published {claim.setting.epochs}")
    return "; ".join(reasons)


# embedded data that stands in for every published dataset (no download; demo and smoke suites)
STAND_IN_DATA = ("digits",)


def stand_in_only(claim: Claim, tables: pd.DataFrame) -> str:
    """Why a published number cannot be matched by a suite trained only on stand-in data, else ''."""
    ours = sorted(set(tables["dataset"].dropna())) if "dataset" in tables else []
    if claim.target is None or not ours or any(d not in STAND_IN_DATA for d in ours):
        return ""
    return (
        f"this suite trains only on stand-in data ({', '.join(ours)}); published on {'/'.join(claim.setting.datasets)}"
    )


def ledger(claims: list[Claim], results: pd.DataFrame, tables: pd.DataFrame) -> pd.DataFrame:
    """One row per (paper, dense net of any cell of the paper's claims): ours against the paper's setting.

    Every paper whose claims found rows here gets its lines, tested or not: a claim that is ``not run`` in a
    cell (a side missing) still applies to those nets, and the reader needs the setting to judge why."""
    dense = tables[tables["stage"] == "dense"]
    rows = []
    for paper, tested in results[results["cell"].fillna("") != ""].groupby("paper", sort=True):
        settings = sorted({c.setting.describe() for c in claims if c.paper == paper})
        models = {
            part.split("=", 1)[1] for cell in tested["cell"] for part in cell.split(", ") if part.startswith("model=")
        }
        for name, group in dense[dense["model"].isin(models)].groupby("dense", sort=True):
            first = group.iloc[0]
            rows.append(
                {
                    "paper": paper,
                    "dense": name,
                    "model": first["model"],
                    "dataset": first["dataset"],
                    "dense_epochs": group["epochs"].max(),
                    "flattening": _largest_change(group),
                    "seeds": group["seed"].nunique(),
                    "published_setting": " | ".join(settings),
                }
            )
    return pd.DataFrame(
        rows,
        columns=["paper", "dense", "model", "dataset", "dense_epochs", "flattening", "seeds", "published_setting"],
    )


def _largest_change(dense: pd.DataFrame) -> float:
    """The largest change of validation accuracy over the last 10 % of epochs among a dense net's seeds (NaN when
    none was measured): how flat the schedule ended, the evidence a shortened schedule needs."""
    if "val_acc_last_tenth" not in dense:
        return float("nan")
    changes = pd.to_numeric(dense["val_acc_last_tenth"], errors="coerce").abs().dropna()
    return float(changes.max()) if len(changes) else float("nan")
