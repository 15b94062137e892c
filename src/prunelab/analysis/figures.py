"""Figures drawn from tidy tables only, so they regenerate without touching any run.

``draw(spec, tables, out, results, name)`` looks up ``spec["type"]`` among the discovered figure types
(:func:`~prunelab.analysis.registry.figure_types`), checks ``spec["options"]`` against the type's
fragment, and writes beside ``out`` (PNG):

* ``<name>.pdf`` — the same figure;
* ``<name>.csv`` — exactly the plotted values (ours, and published plus the difference where they exist);
* ``<name>.summary.rst`` — the type's caption, what was run and how it compares with the published values:
  the report's caption for every figure (``workflow/report/figure.rst`` includes it);
* ``<name>.provenance.json`` — the tables read (which in turn list their runs) and the hashes of the above.
"""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd

from prunelab.analysis import plotting
from prunelab.analysis.registry import Drawn, FigureType, Request, figure_types
from prunelab.config import fragments
from prunelab.errors import ConfigError
from prunelab.records import provenance
from prunelab.records.layout import sidecar
from prunelab.records.storage import atomic_path
from prunelab.replication.caption import caption_lines


def type_of(spec: dict, name: str) -> FigureType:
    """The figure type ``spec`` names (the schema only says it is a string: the types are discovered)."""
    kinds = figure_types()
    if spec.get("type") not in kinds:
        raise ConfigError(
            f"config key figures.{name}.type: {spec.get('type')!r} is unknown (allowed: {', '.join(sorted(kinds))})"
        )
    return kinds[spec["type"]]


def request(spec: dict, name: str) -> Request:
    """The checked request of figure ``name``: one ConfigError line for an unknown type or a bad option."""
    kind = type_of(spec, name)
    options = fragments.resolve(
        kind.options, spec.get("options"), f"figures.{name}.options", f"figure type {kind.name}"
    )
    return Request(
        name=name,
        type=kind.name,
        options=options,
        metric=spec.get("metric", "test_acc"),
        experiments=tuple(spec.get("experiments", ())),
    )


def check_figures(figures: dict[str, dict]) -> None:
    """Check every figure spec of a config (the workflow calls this before scheduling any job)."""
    for name, spec in figures.items():
        request(spec, name)


def paper_of(figure_type_name: str) -> str:
    """The report category of a figure type (the paper it reproduces)."""
    return figure_types()[figure_type_name].paper


def outputs(out: str | Path) -> dict[str, Path]:
    """Every file ``draw`` writes for the PNG path ``out``."""
    out = Path(out)
    return {
        "png": out,
        "pdf": out.with_suffix(".pdf"),
        "csv": out.with_suffix(".csv"),
        "summary": out.with_name(out.stem + ".summary.rst"),
        "provenance": sidecar(out),
    }


def _ran(rows: pd.DataFrame, tables: list[str | Path]) -> list[str]:
    """Report lines on what the figure's rows come from: tables, networks, data, seeds, unusable runs."""
    lines = [
        f"Tables: {', '.join(Path(t).stem for t in tables)} ({len(rows)} rows: "
        + ", ".join(f"{n} {stage}" for stage, n in rows["stage"].value_counts().sort_index().items())
        + ")."
    ]
    for dense, group in rows.groupby("dense", sort=True):
        first = group.iloc[0]
        activation = f" ({first['activation']})" if isinstance(first["activation"], str) else ""
        seeds = ", ".join(str(int(s)) for s in sorted(group["seed"].dropna().unique()))
        lines.append(
            f"Dense {dense}: {first['model']}{activation} on {first['dataset']}, "
            f"dense LR {first['dense_lr']:g}, seeds {seeds}."
        )
    bad = rows[rows["status"] != "ok"]
    if len(bad):
        counts = ", ".join(f"{status} ×{n}" for status, n in bad["status"].value_counts().sort_index().items())
        lines.append(f"Runs shown as missing (never averaged): {counts}.")
    return lines


def once_per_dense_run(rows: pd.DataFrame) -> pd.DataFrame:
    """``rows`` with each dense run once: experiments that share a dense net each list its runs, and the
    unpruned band of a figure over two of them must not count a seed twice (n = 4 for 2 seeds)."""
    dense = rows["stage"].eq("dense") & rows["run"].notna()
    return rows[~(dense & rows["run"].where(dense).duplicated())]


def rst_text(text: str) -> str:
    """Plain text safe inside reStructuredText (config names like ``a_`` or ``*`` must not become markup)."""
    return re.sub(r"([\\`*_|])", r"\\\1", text)


def readable(value) -> str:
    """An option or spec value as caption text: lists joined, mappings as ``key → value``, empty as none."""
    if isinstance(value, (list, tuple)):
        return ", ".join(readable(v) for v in value) or "none"
    if isinstance(value, dict):
        return ", ".join(f"{k} → {readable(v)}" for k, v in value.items()) or "none"
    return f"{value:g}" if isinstance(value, float) else str(value)


def caption(kind: FigureType, req: Request) -> str:
    """The type's caption paragraph with this figure's metric, experiments and options filled in (as plain
    text: config names such as ``a_`` must not become markup)."""
    values = {"metric": req.metric, "experiments": req.experiments, **req.options}
    return kind.caption.format(**{key: rst_text(readable(value)) for key, value in values.items()})


def write_summary(path: Path, caption_text: str, title: str, lines: list[str]) -> None:
    text = f"{caption_text}\n\n**{rst_text(title)}**\n\n" + "".join(f"- {rst_text(line)}\n" for line in lines)
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def draw(
    spec: dict,
    tables: list[str | Path],
    out: str | Path,
    results: str | Path,
    name: str = "",
    replication: str | Path | None = None,
) -> Drawn:
    """Draw figure ``spec`` from ``tables`` into ``out`` (.png) and its siblings (see the module docstring).

    With the suite's ``replication`` table, the summary also names the claims tested on the figure's rows (its
    experiments, in the stages its ``stages`` option draws) and their verdicts. Paths in the sidecar are
    relative to ``results`` so the tree can be moved and still audited."""
    req = request(spec, name)
    started = provenance.now()
    paths = outputs(out)
    rows = pd.concat([pd.read_csv(t) for t in tables], ignore_index=True)
    kind = figure_types()[req.type]
    drawn = kind.plot(once_per_dense_run(rows), req)
    title = spec.get("title") or kind.title or name.replace("_", " ")
    plotting.finish(
        drawn.figure, drawn.figure.axes, title, " ".join(filter(None, [plotting.caption(drawn.values), drawn.remark]))
    )
    with atomic_path(paths["png"]) as tmp_png:
        drawn.figure.savefig(tmp_png, format="png", dpi=plotting.DPI)
    with atomic_path(paths["pdf"]) as tmp_pdf:
        drawn.figure.savefig(tmp_pdf, format="pdf", metadata={"CreationDate": None, "Creator": None, "Producer": None})
    plotting.pyplot().close(drawn.figure)
    with atomic_path(paths["csv"]) as tmp_csv:
        drawn.values.to_csv(tmp_csv, index=False, float_format="%.10g")  # published values keep every digit
    shown = rows[rows["stage"].isin(req.options["stages"])] if "stages" in req.options else rows
    verdicts = caption_lines(shown, pd.read_csv(replication)) if replication else []
    write_summary(paths["summary"], caption(kind, req), title, _ran(rows, tables) + drawn.notes + verdicts)
    record = provenance.build(
        {role: path for role, path in paths.items() if role != "provenance"},
        inputs=[*tables, *([replication] if replication else [])],
        started=started,
        relative_to=results,
        extra={"figure": name, "figure_spec": spec, "options": req.options},
    )
    provenance.write(paths["provenance"], record)
    return drawn
