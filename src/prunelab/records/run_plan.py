"""A built plan: run specs by hash, the experiments' manifest rows and the figures (see :mod:`prunelab.plan.build`).

Kept apart from the builder, which validates against the pruning methods' declarations, so that a stored plan
(:mod:`prunelab.plan.cache`) can be used without importing either.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from prunelab.records import layout
from prunelab.records.hashing import spec_hash


@dataclass
class Plan:
    """Run specs by hash, the experiments' manifest rows, and the figures."""

    config: dict
    specs: dict[str, dict] = field(default_factory=dict)
    experiments: dict[str, list[dict]] = field(default_factory=dict)
    figures: dict[str, dict] = field(default_factory=dict)

    @property
    def results(self) -> str:
        return self.config.get("results", "results")

    def kind(self, run_hash: str) -> str:
        return self.specs[run_hash]["kind"]

    def directory(self, run_hash: str) -> Path:
        return layout.run_dir(self.results, self.kind(run_hash), run_hash)

    def outputs(self, run_hash: str) -> list[str]:
        directory = self.directory(run_hash)
        return [str(directory / name) for name in layout.run_files(self.kind(run_hash))]

    def hashes(self, kind: str) -> list[str]:
        return [h for h, s in self.specs.items() if s["kind"] == kind]

    def _add(self, spec: dict) -> str:
        h = spec_hash(spec)
        self.specs.setdefault(h, spec)
        return h
