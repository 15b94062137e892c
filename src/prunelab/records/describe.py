"""What a run is, in words and in columns: ``prunelab show``, ``prunelab list`` and the lineage labels.

A pruned or branched run's spec names only its own settings and its parents' hashes; the dataset, the
model and the seed people group by belong to the dense run at the root of its chain, and a branch's
method and sparsity to its prune parent. This module follows those links (through a cached
:class:`~prunelab.records.tree.ResultsTree`) so every view shows the same facts.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pandas as pd

from prunelab.errors import ConfigError
from prunelab.records import layout
from prunelab.records.layout import RUN_KINDS, SPEC
from prunelab.records.tree import ResultsTree, Run, code_label, device_label, environment_label, link_keys

LIST_COLUMNS = [
    "kind",
    "run",
    "dataset",
    "model",
    "method",
    "sparsity",
    "scope",
    "level",
    "parent",
    "branch",
    "seed",
    "test_acc",
    "code",
    "device",
    "status",
]


def resolve_run(tree: ResultsTree, text: str) -> Run:
    """A run from a directory path or a (prefix of a) hash; ambiguous or unknown prefixes are user errors."""
    path = Path(text)
    if path.is_dir() and path.parent.name in RUN_KINDS:
        return Run(path.parent.name, path.name, path)
    matches = [run for run in tree.runs() if run.name.startswith(text.lower())]
    if not matches:
        raise ConfigError(f"no run under {tree.root}/runs matches {text!r} (give a hash prefix or a run directory)")
    if len(matches) > 1:
        shown = ", ".join(run.key for run in matches[:6]) + (" ..." if len(matches) > 6 else "")
        raise ConfigError(f"{text!r} matches {len(matches)} runs ({shown}); give more of the hash")
    return matches[0]


def spec_of(tree: ResultsTree, run: Run) -> dict | None:
    """The run's spec: spec.json, or the copy in its provenance when spec.json is unreadable."""
    spec = tree.spec(run)
    if spec.ok:
        return spec.data
    record = tree.provenance(run)
    return record.data.get("spec") if record.ok and isinstance(record.data.get("spec"), dict) else None


def dense_root(tree: ResultsTree, run: Run) -> dict | None:
    """The spec of the dense run at the root of ``run``'s chain (through branches for iterative pruning)."""
    seen = set()
    while run.key not in seen:
        seen.add(run.key)
        spec = spec_of(tree, run)
        if spec is None or spec.get("kind") == "dense":
            return spec
        parents = spec.get("parents") or {}
        link = parents.get("dense") or parents.get("source")
        if not link:
            return None
        run = tree.run(link)
    return None


def _prune_spec(tree: ResultsTree, spec: dict) -> dict | None:
    """The prune spec behind a prune or branch spec (a branch's method and sparsity live there)."""
    if spec.get("kind") == "prune":
        return spec
    link = (spec.get("parents") or {}).get("prune")
    return spec_of(tree, tree.run(link)) if link else None


def _seed_text(seed) -> str:
    if isinstance(seed, dict):
        return (
            str(seed.get("init"))
            if seed.get("init") == seed.get("data")
            else f"init {seed.get('init')}/data {seed.get('data')}"
        )
    return str(seed)


def tree_lookup(tree: ResultsTree):
    """The spec behind a parent link (``kind/hash``) in ``tree``, or None where it is unreadable."""
    return lambda link: spec_of(tree, tree.run(link))


def pruned_from(spec: dict) -> str | None:
    """The link a prune spec prunes: the dense run, or the branch at the previous level of an iterative chain."""
    parents = spec.get("parents") or {}
    return parents.get("source") or parents.get("dense")


def level(spec: dict, lookup) -> int | None:
    """How many prunings lie between the dense run and ``spec``: 0 for a dense run, 1 for a prune of the dense
    run (one-shot, or the first level of IMP) and its branches, L for level L of an iterative chain (a prune of
    the level L−1 branch); None where a link in between cannot be read. ``lookup`` maps a link to its spec."""
    depth, seen = 0, set()
    while spec is not None and spec.get("kind") != "dense":
        if spec.get("kind") == "branch":
            link = (spec.get("parents") or {}).get("prune")
        else:
            depth += 1
            link = pruned_from(spec)
        if not link or link in seen:
            return None
        seen.add(link)
        spec = lookup(link)
    return depth if spec is not None else None


def describe(tree: ResultsTree, run: Run) -> str:
    """One line of what the run did: model and data, method, scope and sparsity, level, branch type, seeds."""
    if not run.path.is_dir():
        return "(missing)"
    spec = spec_of(tree, run)
    if spec is None:
        return "(spec unreadable)"
    return describe_spec(spec, tree_lookup(tree))


def describe_spec(spec: dict, lookup) -> str:
    """:func:`describe` of a spec; ``lookup`` maps a parent link (``kind/hash``) to its spec or None.

    Every setting that makes two runs of one experiment differ is named, scope included, so that runs which
    differ only in global vs layer-wise pruning never print as the same line, and so is the pruning level and
    the run a prune starts from: IMP's level 2 at sparsity 0.8 and a one-shot prune to 0.8 are different runs."""
    if spec.get("kind") == "dense":
        return (
            f"{spec['model'].get('name')} on {spec['dataset'].get('name')}, "
            f"{spec['train'].get('epochs')} epochs, seed {_seed_text(spec.get('seed'))}"
        )
    depth = level(spec, lookup)
    level_text = f"level {'?' if depth is None else depth}"
    if spec.get("kind") == "prune":
        at = "" if spec.get("at") == "final" else f" at {spec.get('at')}"
        return (
            f"{spec.get('method')} to {_sparsity_text(spec)} ({spec.get('scope')}{at}), {level_text} pruned "
            f"from {pruned_from(spec)}, seed {_seed_text(spec.get('seed'))}"
        )
    prune_link = (spec.get("parents") or {}).get("prune")
    prune = (lookup(prune_link) if prune_link else None) or {}
    rewind = f" to {spec['rewind']}" if spec.get("rewind") else ""
    return (
        f"{spec.get('type')}{rewind} after {prune.get('method', '?')} ({prune.get('scope', '?')}) at "
        f"{_sparsity_text(prune)}, {level_text}, seed {_seed_text(spec.get('seed'))}"
    )


def _sparsity_text(prune: dict) -> str:
    sparsity = prune.get("sparsity", math.nan)
    return "its own sparsity" if sparsity is None else f"sparsity {sparsity:.4g}"


def provenance_text(tree: ResultsTree, run: Run) -> str:
    """``code ..., device`` of a run, or why its provenance cannot be read."""
    record = tree.provenance(run)
    if not record.ok:
        return f"provenance: {record.error}"
    return f"code {code_label(record.data)}, {device_label(record.data)}"


def row(tree: ResultsTree, run: Run) -> dict:
    """The run as one row of ``prunelab list``."""
    spec = spec_of(tree, run) or {}
    dense = dense_root(tree, run) or {}
    prune = _prune_spec(tree, spec) if spec.get("kind") != "dense" else None
    record = tree.provenance(run)
    status = "ok" if record.ok else ("incomplete" if record.error == "file not found" else "unreadable")
    return {
        "kind": run.kind,
        "run": run.name,
        "dataset": (dense.get("dataset") or {}).get("name"),
        "model": (dense.get("model") or {}).get("name"),
        "method": prune.get("method") if prune else None,
        "sparsity": _sparsity_value(prune) if prune else 0.0,
        "scope": prune.get("scope") if prune else None,
        "level": level(spec, tree_lookup(tree)) if spec else None,
        "parent": _parent(spec),
        "branch": spec.get("type") if run.kind == "branch" else None,
        "seed": (dense.get("seed") or {}).get("init"),
        "test_acc": _test_acc(tree, run),
        "code": code_label(record.data) if record.ok else None,
        "device": device_label(record.data) if record.ok else None,
        "status": status,
    }


def _parent(spec: dict) -> str | None:
    """What the run starts from: a prune's source (dense run or previous level's branch), a branch's prune."""
    if spec.get("kind") == "prune":
        return pruned_from(spec)
    return (spec.get("parents") or {}).get("prune") if spec.get("kind") == "branch" else None


def _sparsity_value(prune: dict) -> float:
    value = prune.get("sparsity", math.nan)
    return math.nan if value is None else float(value)


def plan_status(tree: ResultsTree, run: Run) -> str:
    """``done`` (provenance verifies: outputs, spec hash, parent links), ``stale`` (the directory exists but a
    file is missing or its provenance does not verify) or ``missing`` (no directory)."""
    from prunelab.records.audit import audit_run

    if not run.path.is_dir():
        return "missing"
    if not tree.provenance(run).ok:
        return "stale"
    return "stale" if any(f.severity == "error" for f in audit_run(tree, run)) else "done"


def _test_acc(tree: ResultsTree, run: Run) -> float:
    metrics = tree.json(run.path / layout.METRICS)
    if not metrics.ok:
        return math.nan
    stage = metrics.data.get("pruned" if run.kind == "prune" else "final") or {}
    return stage.get("test_acc", math.nan)


def run_table(
    tree: ResultsTree,
    kind: str | None = None,
    method: str | None = None,
    sparsity: float | None = None,
    dataset: str | None = None,
) -> pd.DataFrame:
    """Every run under the tree as a table, filtered; sparsity matches the target up to 1e-9."""
    rows = [row(tree, run) for run in tree.runs() if kind is None or run.kind == kind]
    table = pd.DataFrame.from_records(rows, columns=LIST_COLUMNS)
    if method is not None:
        table = table[table["method"] == method]
    if dataset is not None:
        table = table[table["dataset"] == dataset]
    if sparsity is not None:
        table = table[(table["sparsity"] - sparsity).abs() <= 1e-9]
    order = {k: i for i, k in enumerate(RUN_KINDS)}
    return (
        table.assign(_kind=table["kind"].map(order))
        .sort_values(
            ["_kind", "dataset", "model", "method", "sparsity", "scope", "level", "branch", "seed", "run"],
            na_position="first",
            kind="stable",
        )
        .drop(columns="_kind")
        .reset_index(drop=True)
    )


def key_metrics(tree: ResultsTree, run: Run) -> list[str]:
    """The numbers a person looks for first: accuracy (after pruning or training), sparsity, cost."""
    metrics = tree.json(run.path / layout.METRICS)
    if not metrics.ok:
        return [f"metrics.json: {metrics.error}"]
    m = metrics.data
    lines = []
    if run.kind == "prune":
        pruned = m.get("pruned") or {}
        lines.append(
            f"right after pruning: test_acc {pruned.get('test_acc', math.nan):.2f}, "
            f"test_loss {pruned.get('test_loss', math.nan):.4f}"
        )
    else:
        final, best = m.get("final") or {}, m.get("best") or {}
        lines.append(
            f"final: test_acc {final.get('test_acc', math.nan):.2f}, test_loss "
            f"{final.get('test_loss', math.nan):.4f} after {m.get('epochs')} epochs "
            f"({m.get('iterations')} iterations); best validation epoch: test_acc "
            f"{best.get('test_acc', math.nan):.2f}"
        )
    if m.get("sparsity"):
        lines.append(
            f"sparsity {m['sparsity'].get('sparsity', math.nan):.4f} "
            f"({m['sparsity'].get('kept')} of {m['sparsity'].get('total')} prunable weights kept)"
        )
    if m.get("flops"):
        lines.append(f"cost: {m['flops'].get('macs')} MACs, {m['flops'].get('params')} nonzero parameters")
    return lines


def show(tree: ResultsTree, run: Run) -> str:
    """``prunelab show``: what the run is, its key metrics, where it came from, and whether it checks out."""
    from prunelab.records.audit import audit_run

    out = [f"{run.kind} {run.name}  {describe(tree, run)}", f"  directory    {run.path}"]
    out += [f"  metrics      {line}" for line in key_metrics(tree, run)]
    record = tree.provenance(run)
    if record.ok:
        r = record.data
        host = r.get("host") or {}
        out += [
            f"  code         {code_label(r)}",
            f"  environment  {environment_label(r)}; python {(r.get('environment') or {}).get('python')}; "
            f"cpu {(r.get('hardware') or {}).get('cpu')}",
            f"  ran          {r.get('started')} → {r.get('finished')} on {host.get('host')}"
            + (f" (SLURM job {host['slurm_job_id']})" if host.get("slurm_job_id") else ""),
            f"  seeds        {json.dumps(r.get('seeds'), sort_keys=True)}",
        ]
        out += [
            f"  parent       {role}: {key}  {describe(tree, tree.run(key))}"
            for role, key in sorted(link_keys(r.get("parents")).items())
        ]
        out.append(f"  outputs      {', '.join(sorted(r.get('outputs') or {}))}")
    else:
        out.append(f"  provenance   {record.error}")
    findings = audit_run(tree, run)
    out += [f"  audit        {f.line()}" for f in findings] or [
        "  audit        ok: outputs, spec hash and parent links match the provenance"
    ]
    spec = spec_of(tree, run)
    out += ["spec:", json.dumps(spec, indent=2, sort_keys=True) if spec is not None else f"  {SPEC} unreadable"]
    return "\n".join(out)
