"""Replication outputs: ``<suite>.csv`` (one row per claim and cell), ``<suite>.md`` (the deviation ledger,
verdict counts, then the table) and a provenance sidecar listing the tables read, so ``prunelab audit``
covers them like figures."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from prunelab import provenance
from prunelab.layout import sidecar
from prunelab.replication import ledger as ledger_mod
from prunelab.replication.claims import all_claims
from prunelab.replication.select import prepare
from prunelab.replication.verdict import VERDICTS, adjust, evaluate
from prunelab.storage import atomic_path

MD_COLUMNS = ["verdict", "claim", "cell", "n", "estimate", "ci_low", "ci_high", "tolerance_used", "published", "why"]


def replicate(tables: pd.DataFrame, claims=None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Every claim's verdict per cell on ``tables`` (Holm-adjusted), and the deviation ledger."""
    claims = all_claims() if claims is None else claims
    rows = prepare(tables)
    results = []
    for claim in claims:
        results += evaluate(claim, rows, lambda c, group: ledger_mod.not_comparable(c, group, rows))
    frame = adjust(pd.DataFrame(results))
    return frame, ledger_mod.ledger(claims, frame, rows)


def counts(results: pd.DataFrame) -> dict[str, int]:
    """Tests per verdict, in VERDICTS order (zeros kept, so every summary has the same shape)."""
    found = results["verdict"].value_counts()
    return {verdict: int(found.get(verdict, 0)) for verdict in VERDICTS}


def summary_lines(suite: str, results: pd.DataFrame) -> list[str]:
    """The one-screen summary: tests, counts per verdict, and the decided claims."""
    tally = counts(results)
    lines = [f"Replication ({suite}): {len(results)} tests of {results['claim'].nunique()} claims — "
             + ", ".join(f"{v} {n}" for v, n in tally.items()),
             "  (95 % t intervals; 'contradicted' after Holm over the tests that could contradict)"]
    for _, r in results[results["verdict"].isin(["holds", "reproduced", "contradicted"])].iterrows():
        lines.append(f"  {r['verdict']:<12} {r['claim']} [{r['cell']}] n={int(r['n'])}: "
                     f"{r['estimate']:.3g} [{r['ci_low']:.3g}, {r['ci_high']:.3g}]")
    return lines


def print_summary(suite: str, csv: str | Path) -> None:
    """Print the one-screen summary of a written replication table (the workflow's onsuccess)."""
    print("\n".join(summary_lines(suite, pd.read_csv(csv))))


def _cell(value) -> str:
    if isinstance(value, float):
        return "" if value != value else f"{value:.4g}"
    return str(value).replace("|", "\\|")


def markdown_table(frame: pd.DataFrame) -> str:
    """A GitHub-flavoured Markdown table (pipes in cells escaped, floats to 4 significant digits)."""
    lines = ["| " + " | ".join(frame.columns) + " |", "|" + "---|" * len(frame.columns)]
    lines += ["| " + " | ".join(_cell(v) for v in row) + " |" for row in frame.itertuples(index=False)]
    return "\n".join(lines)


def _markdown(suite: str, results: pd.DataFrame, ledger: pd.DataFrame) -> str:
    out = [f"# Did it replicate? Suite `{suite}`", "",
           "## Where this suite deviates from each paper's setting", ""]
    if ledger.empty:
        out.append("No claim of any paper was tested on this suite's runs.")
    else:
        out.append(markdown_table(ledger))
    out += ["", "## Verdicts", "", summary_lines(suite, results)[0], "",
            "Intervals: 95 % Student-t of the contrast (paired over dense runs where every side shares them, "
            "Welch otherwise); published mean ± std over k runs enters as std/√k. `reproduced` needs the whole "
            "interval of (ours − published) inside ±tolerance; `contradicted` survives Holm's adjustment.", "",
            markdown_table(results[MD_COLUMNS])]
    return "\n".join(out) + "\n"


def write(tables: list[str | Path], suite: str, out: str | Path, results_root: str | Path) -> pd.DataFrame:
    """Read ``tables``, write ``out`` (CSV), its ``.md`` and provenance sidecar; return the results."""
    started = provenance.now()
    out = Path(out)
    frame = pd.concat([pd.read_csv(t) for t in tables], ignore_index=True)
    results, ledger = replicate(frame)
    with atomic_path(out) as tmp:
        results.to_csv(tmp, index=False, float_format="%.6g")
    markdown = out.with_suffix(".md")
    with atomic_path(markdown) as tmp:
        tmp.write_text(_markdown(suite, results, ledger), encoding="utf-8")
    record = provenance.build({"table": out, "markdown": markdown}, inputs=list(tables), started=started,
                              relative_to=results_root, extra={"replication": suite, "counts": counts(results)})
    provenance.write(sidecar(out), record)
    return results
