"""The replication page: everything a reader needs to judge each claim without opening the CSV, built once as
a list of blocks and rendered to Markdown (``<suite>.md``) and HTML (``<suite>.html``, the report's entry), so
the two never disagree.

Layout: the verdict counts; then one section per paper whose claims found rows in this suite: where the suite
deviates from the paper's setting (its ledger lines), the claims it tested (each a block: what the claim says,
what was compared in words, the tolerance and why, one line per cell with verdict, n, estimate with its 95 %
interval and unit, and the reason), then the claims it could not run with the restriction that excluded the
rows. Published numbers the suite cannot compare (stand-in data, another setting) come last and collapsed:
there are many, and they would otherwise bury the suite's own findings.
"""

from __future__ import annotations

import html
import math
import re
from dataclasses import dataclass

import pandas as pd

from prunelab.replication.claim import VERDICTS

# The report's category for the page. Snakemake's report lists categories in alphabetical order and the paper
# categories start with letters; the number puts "did it replicate?" first, where a reader starts.
CATEGORY = "1. Did it replicate?"
TESTED = ("holds", "reproduced", "contradicted", "inconclusive")
INTERVALS = (
    "Intervals: 95 % Student-t of the contrast (paired over dense runs where every side shares them, "
    "Welch otherwise); a published mean ± std over k runs enters as std/√k. `reproduced` needs the whole "
    "interval of (ours − published) inside ±tolerance; `contradicted` survives Holm's adjustment over "
    "every test that could contradict; `inconclusive` says how many seeds would decide it."
)


@dataclass(frozen=True)
class Heading:
    level: int
    text: str


@dataclass(frozen=True)
class Text:
    """A paragraph; `backticks` mark names (claim ids, columns), **stars** a label."""

    text: str


@dataclass(frozen=True)
class Table:
    columns: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]


@dataclass(frozen=True)
class Collapsed:
    """A section a reader opens on demand (``<details>``)."""

    summary: str
    blocks: tuple


def number(value) -> str:
    """A count as an integer, any other number to 3 significant digits, NaN as nothing."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, (int, float)) and float(value).is_integer() and abs(value) < 1e6:
        return str(int(value))
    return f"{value:.3g}"


def estimate(row: pd.Series) -> str:
    """``+1.23 pp [0.45, 2.01]``: the estimate with its unit and 95 % interval, or nothing where none."""
    if pd.isna(row["estimate"]):
        return ""
    unit = f" {row['unit']}" if isinstance(row.get("unit"), str) and row["unit"] else ""
    return f"{row['estimate']:+.3g}{unit} [{row['ci_low']:.3g}, {row['ci_high']:.3g}]"


def _tally(results: pd.DataFrame) -> str:
    found = results["verdict"].value_counts()
    return ", ".join(f"{verdict} {int(found[verdict])}" for verdict in VERDICTS if verdict in found)


def _claim_block(rows: pd.DataFrame) -> list:
    """One claim: what it says, what is compared, the tolerance and why, then one line per cell."""
    first = rows.iloc[0]
    tolerance = number(first["tolerance"]) + (
        f" {first['unit']}" if isinstance(first["unit"], str) and first["unit"] not in ("", "ρ") else ""
    )
    blocks = [
        Heading(4, f"`{first['claim']}` ({first['where']})"),
        Text(f"**Says:** {first['statement']}."),
        Text(f"**Compared:** {first['compared']}."),
        Text(f"**Tolerance:** {tolerance}; {first['tolerance_source']}. **Source:** {first['source']}."),
    ]
    cell = [r["cell"] if isinstance(r["cell"], str) and r["cell"] else "" for _, r in rows.iterrows()]
    why = [r["why"] if isinstance(r["why"], str) else "" for _, r in rows.iterrows()]
    if (rows["verdict"] == "not run").all():  # nothing measured: only where and why
        if len(rows) == 1 and not cell[0]:
            return blocks + [Text(f"**Not run:** {why[0]}.")]
        return blocks + [Table(("cell", "not run because"), tuple(zip(cell, why)))]
    lines = [
        (c, r["verdict"], number(r["n"]), estimate(r), r["interval"] if isinstance(r["interval"], str) else "", w)
        for c, w, (_, r) in zip(cell, why, rows.iterrows())
    ]
    return blocks + [Table(("cell", "verdict", "n", "estimate [95 % interval]", "interval", "why"), tuple(lines))]


def _flattening(change) -> str:
    """How flat a dense schedule ended, when measured: the last 10 % of epochs moved validation accuracy by at most
    this much (issue #25 shortens a schedule only below 0.2 points)."""
    if change is None or pd.isna(change):
        return ""
    return f" (the last 10 % of them moved validation accuracy by ≤ {change:.2f} points)"


def _ledger_lines(ledger: pd.DataFrame) -> list:
    if ledger.empty:
        return []
    lines = [
        f"`{r['dense']}`: {r['model']} on {r['dataset']}, {number(r['dense_epochs'])} dense epochs"
        + _flattening(r.get("flattening"))
        + f", {number(r['seeds'])} seed(s)"
        for _, r in ledger.iterrows()
    ]
    return [
        Text(
            "**This suite vs the paper's setting.** The paper: "
            + ledger.iloc[0]["published_setting"]
            + ". This suite: "
            + "; ".join(lines)
            + "."
        )
    ]


def blocks(suite: str, results: pd.DataFrame, ledger: pd.DataFrame) -> list:
    """The page as blocks (see the module docstring for the layout)."""
    own = results[results["verdict"] != "not comparable"]
    apart = results[results["verdict"] == "not comparable"]
    out = [
        Heading(1, f"Did it replicate? Suite `{suite}`"),
        Text(f"{len(results)} tests of {results['claim'].nunique()} claims: {_tally(results)}."),
        Text(
            f"**This suite's own findings:** {len(own)} tests of {own['claim'].nunique()} claims "
            f"({_tally(own) if len(own) else 'none'}), by paper below. **Published numbers it cannot "
            f"compare:** {len(apart)}, in the last section (collapsed)."
        ),
        Text(INTERVALS),
    ]
    for paper, rows in own.groupby("paper", sort=False):
        out += [Heading(2, paper), *_ledger_lines(ledger[ledger["paper"] == paper])]
        tested = rows.groupby("claim", sort=False)["verdict"].transform(lambda v: v.isin(TESTED).any())
        if tested.any():
            out.append(Heading(3, "Tested"))
            for _, claim_rows in rows[tested].groupby("claim", sort=False):
                out += _claim_block(claim_rows)
        if (~tested).any():
            out += [
                Heading(3, "Not run in this suite"),
                Text(
                    "Each claim below found none of the rows it compares; the line says which restriction "
                    "excluded them."
                ),
            ]
            for _, claim_rows in rows[~tested].groupby("claim", sort=False):
                out += _claim_block(claim_rows)
    if len(apart):
        table = Table(
            ("claim", "says", "published", "ours − published [95 % interval]", "n", "why not comparable"),
            tuple(
                (f"`{r['claim']}`", r["statement"], r["published"], estimate(r), number(r["n"]), r["why"])
                for _, r in apart.iterrows()
            ),
        )
        out.append(
            Collapsed(
                f"Published numbers this suite cannot compare ({len(apart)})",
                (
                    Text(
                        "Numbers published in a setting this suite does not match (other data, a "
                        "shorter schedule, or a network only real data trains); an estimate is shown "
                        "where the suite has the rows, but it is not a test of the paper."
                    ),
                    table,
                ),
            )
        )
    return out


# --- Markdown ----------------------------------------------------------------------------------------------


def _md_cell(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _markdown_block(block) -> str:
    if isinstance(block, Heading):
        return "#" * block.level + " " + block.text
    if isinstance(block, Text):
        return block.text
    if isinstance(block, Table):
        lines = ["| " + " | ".join(block.columns) + " |", "|" + "---|" * len(block.columns)]
        return "\n".join(lines + ["| " + " | ".join(_md_cell(c) for c in row) + " |" for row in block.rows])
    return (
        "<details>\n<summary>"
        + html.escape(block.summary)
        + "</summary>\n\n"
        + "\n\n".join(_markdown_block(b) for b in block.blocks)
        + "\n\n</details>"
    )


def markdown(page: list) -> str:
    return "\n\n".join(_markdown_block(block) for block in page) + "\n"


# --- HTML --------------------------------------------------------------------------------------------------

STYLE = """
body { font-family: system-ui, sans-serif; max-width: 70em; margin: 1.5em auto; padding: 0 1em; color: #222;
       line-height: 1.4; }
h2 { border-bottom: 1px solid #ccc; margin-top: 2em; } h4 { margin-bottom: 0.3em; } p { margin: 0.3em 0; }
h4 code { font-size: 1.05em; } td.estimate { white-space: nowrap; }
table { border-collapse: collapse; margin: 0.5em 0 1em; font-size: 0.92em; }
th, td { border: 1px solid #ddd; padding: 0.25em 0.5em; text-align: left; vertical-align: top; }
th { background: #f4f4f4; } code { background: #f4f4f4; padding: 0 0.2em; }
.verdict { font-weight: 600; white-space: nowrap; }
.holds, .reproduced { color: #17692b; } .contradicted { color: #b00020; } .inconclusive { color: #8a6100; }
.not-run, .not-comparable { color: #666; }
summary { cursor: pointer; font-weight: 600; font-size: 1.2em; margin-top: 2em; }
"""


def _inline(text: str) -> str:
    escaped = html.escape(str(text))
    escaped = re.sub(r"`([^`]+)`", r"<code>\1</code>", escaped)
    return re.sub(r"\*\*([^*]+)\*\*", r"<strong>\1</strong>", escaped)


def _html_cell(column: str, value: str) -> str:
    if column == "verdict":
        return f'<td class="verdict {value.replace(" ", "-")}">{html.escape(value)}</td>'
    if column.startswith("estimate"):
        return f'<td class="estimate">{html.escape(value)}</td>'
    return f"<td>{_inline(value)}</td>"


def _html_block(block) -> str:
    if isinstance(block, Heading):
        return f"<h{block.level}>{_inline(block.text)}</h{block.level}>"
    if isinstance(block, Text):
        return f"<p>{_inline(block.text)}</p>"
    if isinstance(block, Table):
        head = "".join(f"<th>{html.escape(c)}</th>" for c in block.columns)
        body = "".join(
            "<tr>" + "".join(_html_cell(c, v) for c, v in zip(block.columns, row)) + "</tr>" for row in block.rows
        )
        return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
    return (
        f"<details><summary>{html.escape(block.summary)}</summary>"
        + "\n".join(_html_block(b) for b in block.blocks)
        + "</details>"
    )


def html_page(title: str, page: list) -> str:
    body = "\n".join(_html_block(block) for block in page)
    return (
        f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>'
        f"<style>{STYLE}</style></head>\n<body>\n{body}\n</body></html>\n"
    )
