"""The replication lines of a figure's caption: the claims tested on the figure's rows, their verdicts, n and
the interval, read from the suite's replication table (so caption and table never disagree).

A test is on a figure when the rows it compared come from an experiment and stage the figure draws (the
table's ``rows_from``): a figure of one experiment's pruned nets names the claims about pruned nets of that
experiment, not every claim about the same network elsewhere in the suite."""

from __future__ import annotations

import pandas as pd

from prunelab.replication.page import number

MAX_LINES = 12  # a caption stays readable; the rest is in results/replication/<suite>.md
ORDER = {"contradicted": 0, "holds": 1, "reproduced": 1, "inconclusive": 2, "not comparable": 3}


def _pairs(text) -> set[str]:
    return {part.strip() for part in text.split(";")} if isinstance(text, str) and text else set()


def on_rows(rows: pd.DataFrame, replication: pd.DataFrame) -> pd.DataFrame:
    """The results whose compared rows come from an ``experiment/stage`` that ``rows`` contain."""
    shown = {f"{e}/{s}" for e, s in rows[["experiment", "stage"]].dropna().drop_duplicates().itertuples(index=False)}
    sources = replication["rows_from"] if "rows_from" in replication else pd.Series("", index=replication.index)
    return replication[[bool(_pairs(text) & shown) for text in sources]]


def caption_lines(rows: pd.DataFrame, replication: pd.DataFrame) -> list[str]:
    """One line per tested (claim, cell) on the figure's ``rows``, decided ones first; then the claims that
    apply to these rows but could not run (their reasons are on the replication page)."""
    mine = on_rows(rows, replication)
    tested = mine[mine["verdict"] != "not run"]
    tested = tested.iloc[tested["verdict"].map(ORDER).fillna(len(ORDER)).argsort(kind="stable")]
    not_run = sorted(set(mine.loc[mine["verdict"] == "not run", "claim"]) - set(tested["claim"]))
    if tested.empty and not not_run:
        return ["Replication: no claim of the registry applies to this figure's rows."]
    lines = [
        f"Replication: {len(tested)} test(s) of {tested['claim'].nunique()} claim(s) on this figure's rows "
        f"(95 % t intervals of the claim's contrast; n = seeds)."
        if len(tested)
        else "Replication: no claim could be tested on this figure's rows."
    ]
    for _, r in tested.head(MAX_LINES).iterrows():
        unit = f" {r['unit']}" if isinstance(r.get("unit"), str) and r["unit"] else ""
        interval = (
            f", {r['estimate']:+.3g}{unit} [{r['ci_low']:.3g}, {r['ci_high']:.3g}] ({r['interval']})"
            if pd.notna(r["estimate"])
            else ""
        )
        why = f" — {r['why']}" if isinstance(r["why"], str) and r["why"] else ""
        lines.append(
            f"{r['verdict']}: {r['claim']} ({r['statement']}) [{r['cell']}], n = {number(r['n'])}{interval}{why}."
        )
    if len(tested) > MAX_LINES:
        lines.append(f"… and {len(tested) - MAX_LINES} more in the suite's replication page.")
    if not_run:
        lines.append(
            f"Not run on these rows ({len(not_run)}; the replication page says which rows each lacks): "
            + ", ".join(not_run)
            + "."
        )
    return lines
