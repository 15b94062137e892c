"""Replication outputs: ``<suite>.csv`` (one row per claim and cell), the page that reads without it as
``<suite>.md`` and ``<suite>.html`` (the report's entry; see ``page``), and a provenance sidecar listing the
tables read, so ``prunelab audit`` covers them like figures."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from prunelab.records import provenance
from prunelab.records.layout import sidecar
from prunelab.records.storage import atomic_path
from prunelab.replication import ledger as ledger_mod
from prunelab.replication import page
from prunelab.replication.claim import VERDICTS
from prunelab.replication.papers import all_claims
from prunelab.replication.select import prepare
from prunelab.replication.verdict import adjust, evaluate


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
    lines = [
        f"Replication ({suite}): {len(results)} tests of {results['claim'].nunique()} claims — "
        + ", ".join(f"{v} {n}" for v, n in tally.items()),
        "  (95 % t intervals; 'contradicted' after Holm over the tests that could contradict)",
    ]
    for _, r in results[results["verdict"].isin(["holds", "reproduced", "contradicted"])].iterrows():
        lines.append(
            f"  {r['verdict']:<12} {r['claim']} [{r['cell']}] n={int(r['n'])}: "
            f"{r['estimate']:.3g} [{r['ci_low']:.3g}, {r['ci_high']:.3g}]"
        )
    return lines


def print_summary(suite: str, csv: str | Path) -> None:
    """Print the one-screen summary of a written replication table (the workflow's onsuccess)."""
    print("\n".join(summary_lines(suite, pd.read_csv(csv))))


def write(tables: list[str | Path], suite: str, out: str | Path, results_root: str | Path) -> pd.DataFrame:
    """Read ``tables``, write ``out`` (CSV), its ``.md`` and ``.html`` page and provenance sidecar; return the
    results."""
    started = provenance.now()
    out = Path(out)
    frame = pd.concat([pd.read_csv(t) for t in tables], ignore_index=True)
    results, ledger = replicate(frame)
    with atomic_path(out) as tmp:
        results.to_csv(tmp, index=False, float_format="%.6g")
    blocks = page.blocks(suite, results, ledger)
    markdown, html = out.with_suffix(".md"), out.with_suffix(".html")
    with atomic_path(markdown) as tmp:
        tmp.write_text(page.markdown(blocks), encoding="utf-8")
    with atomic_path(html) as tmp:
        tmp.write_text(page.html_page(f"Did it replicate? Suite {suite}", blocks), encoding="utf-8")
    record = provenance.build(
        {"table": out, "markdown": markdown, "html": html},
        inputs=list(tables),
        started=started,
        relative_to=results_root,
        extra={"replication": suite, "counts": counts(results)},
    )
    provenance.write(sidecar(out), record)
    return results
