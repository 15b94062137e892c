"""The replication lines of a figure's caption: the claims tested on the figure's networks, their verdicts,
n and the interval, read from the suite's replication table (so caption and table never disagree)."""

from __future__ import annotations

import pandas as pd

MAX_LINES = 12   # a caption stays readable; the rest is in results/replication/<suite>.md


def caption_lines(rows: pd.DataFrame, replication: pd.DataFrame) -> list[str]:
    """One line per tested (claim, cell) whose cell names a model this figure shows."""
    models = {str(m) for m in rows["model"].dropna().unique()}
    tested = replication[replication["verdict"] != "not run"]
    mine = tested[[any(f"model={m}," in f"{cell}," for m in models) for cell in tested["cell"].fillna("")]]
    if mine.empty:
        return ["Replication: no claim of the registry is tested on this figure's networks."]
    lines = [f"Replication: {len(mine)} test(s) of {mine['claim'].nunique()} claim(s) on these networks "
             f"(95 % t intervals of the claim's contrast; n = seeds)."]
    for _, r in mine.head(MAX_LINES).iterrows():
        interval = (f", {r['estimate']:.3g} [{r['ci_low']:.3g}, {r['ci_high']:.3g}] ({r['interval']})"
                    if pd.notna(r["estimate"]) else "")
        why = f" — {r['why']}" if isinstance(r["why"], str) and r["why"] else ""
        lines.append(f"{r['verdict']}: {r['claim']} ({r['statement']}) [{r['cell']}], n = {int(r['n'])}"
                     f"{interval}{why}.")
    if len(mine) > MAX_LINES:
        lines.append(f"… and {len(mine) - MAX_LINES} more in the suite's replication table.")
    return lines
