"""``prunelab gc``: run directories that no given config plans any more, and which of them may go.

Editing a config renames the runs it changes (run directories are named by spec hash), so the old
directories stay behind. A run is only removed when no table, figure or report provenance under the
results tree still depends on it, directly or through a child run: deleting it would break that record's
lineage and its audit. Those are kept and reported with the record that holds them.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field

from prunelab.records.layout import RUN_KINDS, SIDECAR_SUFFIX
from prunelab.records.tree import ResultsTree, Run, link_keys

# the areas whose provenance records link to runs (runs/ itself holds the runs)
DEPENDENT_AREAS = ("tables", "figures", "report")


@dataclass
class Unplanned:
    """A run directory no config plans; ``held_by`` names the records that still depend on it."""

    run: Run
    held_by: list[str] = field(default_factory=list)

    @property
    def deletable(self) -> bool:
        return not self.held_by


def dependents(tree: ResultsTree) -> dict[str, list[str]]:
    """``kind/hash`` -> the provenance records (relative to the root) whose lineage contains that run."""
    held: dict[str, list[str]] = {}
    for area in DEPENDENT_AREAS:
        for sidecar in tree.files(tree.root / area):
            if not sidecar.name.endswith(SIDECAR_SUFFIX):
                continue
            record = tree.json(sidecar)
            links = link_keys(record.data.get("parents")) if record.ok else {}
            runs = [key for key in links.values() if key.partition("/")[0] in RUN_KINDS]
            for key in tree.ancestry(runs):
                held.setdefault(key, []).append(str(sidecar.relative_to(tree.root)))
    return held


def unplanned(tree: ResultsTree, planned: set[str]) -> list[Unplanned]:
    """Every run directory whose ``kind/hash`` is not in ``planned``, sorted by kind then hash."""
    held = dependents(tree)
    return [Unplanned(run, sorted(held.get(run.key, []))) for run in tree.runs() if run.key not in planned]


def delete(runs: list[Unplanned]) -> None:
    """Remove the deletable run directories (never one a record depends on)."""
    for entry in runs:
        if entry.deletable:
            shutil.rmtree(entry.run.path)
