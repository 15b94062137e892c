"""``prunelab lineage``: the tree from a figure or table down to the dense training runs behind it.

A figure's sidecar lists the tables it was drawn from; a table's sidecar lists the runs its aggregation
read; a run's provenance links its parents. Following those links gives a DAG (one dense run feeds many
pruned runs), printed as a text tree in which a run already shown is referred back to instead of being
expanded again, or as Graphviz DOT with each node once and edges in the direction the data flowed.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from prunelab.errors import ConfigError
from prunelab.records import layout
from prunelab.records.describe import describe, provenance_text, resolve_run
from prunelab.records.layout import AREAS, RUN_KINDS
from prunelab.records.tree import ResultsTree, Run, code_label, link_keys, primary_output

KIND_ORDER = {"figure": 0, "table": 1, **{kind: 2 + i for i, kind in enumerate(RUN_KINDS)}}
COLOURS = {"figure": "#f4cccc", "table": "#fff2cc", "dense": "#d9ead3", "prune": "#cfe2f3", "branch": "#d9d2e9"}


@dataclass
class Node:
    kind: str  # figure | table | dense | prune | branch
    name: str  # results-relative path, or run hash
    details: str  # what it is (method, sparsity, seeds ...)
    origin: str  # code version and device
    children: list[str] = field(default_factory=list)

    def label(self) -> str:
        return f"{self.kind} {self.name}  {self.details}  [{self.origin}]".replace("  []", "")


@dataclass
class Lineage:
    top: str
    nodes: dict[str, Node]

    def runs(self) -> set[str]:
        """``kind/hash`` of every run in the lineage."""
        return {key for key, node in self.nodes.items() if node.kind in RUN_KINDS}

    def text(self) -> str:
        lines: list[str] = []
        shown: set[str] = set()

        def walk(key: str, prefix: str, branch: str, last: bool) -> None:
            node = self.nodes[key]
            again = key in shown
            lines.append(prefix + branch + (f"{node.kind} {node.name}  (see above)" if again else node.label()))
            if again:
                return
            shown.add(key)
            inner = prefix + ("" if not branch else ("    " if last else "│   "))
            for i, child in enumerate(node.children):
                end = i == len(node.children) - 1
                walk(child, inner, "└── " if end else "├── ", end)

        walk(self.top, "", "", True)
        return "\n".join(lines)

    def dot(self) -> str:
        out = ["digraph lineage {", "  rankdir=LR;", '  node [shape=box, style="rounded,filled", fontsize=10];']
        for key, node in sorted(self.nodes.items()):
            label = "\\n".join(
                _escape(part) for part in (f"{node.kind} {node.name}", node.details, node.origin) if part
            )
            out.append(f'  "{_escape(key)}" [label="{label}", fillcolor="{COLOURS[node.kind]}"];')
        for key, node in sorted(self.nodes.items()):
            out += [f'  "{_escape(child)}" -> "{_escape(key)}";' for child in node.children]
        out.append("}")
        return "\n".join(out)


def _escape(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)[1:-1]


def find_root(path: Path) -> Path | None:
    """The results root above ``path``: the nearest ancestor that ``path`` lies in an area of."""
    path = path.resolve()
    for ancestor in path.parents:
        for area in AREAS:
            if (ancestor / area).is_dir() and path.is_relative_to(ancestor / area):
                return ancestor
    return None


def lineage(target: str, results: str | Path | None = None) -> Lineage:
    """The lineage of a figure or table (any of its files or its sidecar) or of a run (path or hash prefix)."""
    path = Path(target)
    if not path.exists() and (path.suffix or len(path.parts) > 1):  # a path, not a hash prefix
        raise ConfigError(
            f"{path}: no such file or directory (give a figure, a table, a run directory or a hash prefix)"
        )
    root = Path(results) if results else (find_root(path) if path.exists() else None) or Path("results")
    tree = ResultsTree(root)
    nodes: dict[str, Node] = {}
    if path.exists() and path.suffix in (".csv", ".png", ".pdf", ".json") and not path.is_dir():
        sidecar = layout.sidecar(path)
        if not sidecar.exists():
            raise ConfigError(f"{path}: no provenance sidecar {sidecar.name} beside it; not a prunelab table or figure")
        top = _add_analysis(tree, sidecar, nodes)
    else:
        run = resolve_run(tree, target)
        top = run.key
        _add_run(tree, run, nodes)
    return Lineage(top, nodes)


def _add_analysis(tree: ResultsTree, sidecar: Path, nodes: dict[str, Node]) -> str:
    """A table (children: the runs it read) or a figure (children: its tables); returns the node's key."""
    record = tree.json(sidecar)
    if not record.ok:
        raise ConfigError(f"{sidecar}: {record.error}")
    kind = "figure" if "figure" in record.data else "table"
    name = primary_output(record.data) or sidecar.name
    key = f"{kind}:{name}"
    if key in nodes:
        return key
    parents = sorted(set(link_keys(record.data.get("parents")).values()), key=_order)
    tables = [layout.sidecar(tree.root / p) for p in sorted(record.data.get("inputs") or {})]
    tables = [t for t in tables if kind == "figure" and t.exists()]
    details = f"{len(parents)} runs read" if kind == "table" else f"{len(tables)} table(s)"
    node = nodes[key] = Node(kind, name, details, f"code {code_label(record.data)}")
    node.children = [_add_analysis(tree, table, nodes) for table in tables]
    for link in parents:
        _add_run(tree, tree.run(link), nodes)
    node.children += parents
    return key


def _add_run(tree: ResultsTree, run: Run, nodes: dict[str, Node]) -> None:
    if run.key in nodes:
        return
    node = nodes[run.key] = Node(run.kind, run.name, describe(tree, run), provenance_text(tree, run))
    parents = sorted(set(tree.parents(run).values()), key=_order)
    for parent in parents:
        _add_run(tree, tree.run(parent), nodes)
    node.children = parents


def _order(key: str) -> tuple[int, str]:
    kind, _, name = key.partition("/")
    return KIND_ORDER.get(kind, 9), name
