"""Typed run specs: one frozen dataclass per run kind, written as the JSON that names the run.

The planner builds these and the jobs parse their ``--spec`` JSON into them once (:func:`parse`), so a run's
fields are attributes with one declared shape rather than string keys read all over the code. Their JSON
form (:meth:`to_dict`) is exactly the spec that was hashed before these types existed, key for key, so every
run keeps its hash and directory (tests/test_golden_hashes.py pins them); :mod:`prunelab.records.hashing` still does the
canonical form and the hashing. The sections that are passed on whole (``dataset``, ``model``, ``train``,
hyperparameters, scoring and JSV batches) stay resolved mappings with the schema's defaults filled in.

A spec that does not have exactly its kind's keys is refused with one line naming the key, so a stale or
hand-edited ``spec.json`` cannot reach a job half-understood.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, ClassVar

from prunelab.errors import ConfigError
from prunelab.records import layout
from prunelab.records.hashing import spec_hash


@dataclass(frozen=True)
class Seeds:
    """A training run's seeds: ``init`` draws the weights, ``data`` the batch order and augmentation."""

    init: int
    data: int

    def to_dict(self) -> dict:
        return {"init": self.init, "data": self.data}


class _Spec:
    """What the three kinds share: their kind, hash, parents and JSON form."""

    kind: ClassVar[str]
    OPTIONAL: ClassVar[tuple[str, ...]] = ()  # keys left out of the JSON while None (absent in older hashes)

    @property
    def hash(self) -> str:
        return spec_hash(self.to_dict())

    @property
    def links(self) -> dict[str, str]:
        """``{role: kind/hash}`` of the parent runs: none for a dense run."""
        return {}

    def parent_dirs(self, results: str | Path) -> dict[str, Path]:
        return layout.parent_dirs(self.links, results)

    def to_dict(self) -> dict:
        """The JSON form that is hashed and written to ``spec.json``."""
        out: dict[str, Any] = {"kind": self.kind}
        for f in fields(self):  # type: ignore[arg-type]
            value = getattr(self, f.name)
            if value is None and f.name in self.OPTIONAL:
                continue
            out[f.name] = value.to_dict() if isinstance(value, Seeds) else value
        return out

    @classmethod
    def from_dict(cls, data: dict, where: str = "spec"):
        """The typed spec of ``data``; a missing or unknown key is one :class:`ConfigError` naming it."""
        if not isinstance(data, dict):
            raise ConfigError(f"{where}: a run spec is a JSON object, not {type(data).__name__}")
        if data.get("kind") != cls.kind:
            raise ConfigError(f"{where}: spec kind {data.get('kind')!r} given where a {cls.kind} spec is needed")
        names = [f.name for f in fields(cls)]  # type: ignore[arg-type]
        unknown = sorted(set(data) - set(names) - {"kind"})
        missing = [n for n in names if n not in data and n not in cls.OPTIONAL]
        if unknown or missing:
            problem = f"unknown key {unknown[0]!r}" if unknown else f"missing key {missing[0]!r}"
            raise ConfigError(f"{where}: {problem} in a {cls.kind} spec")
        values = {n: data.get(n) for n in names}
        if "seed" in values and isinstance(values["seed"], dict):
            values["seed"] = _seeds(values["seed"], f"{where}.seed")
        return cls(**values)


def _seeds(value: dict, where: str) -> Seeds:
    if set(value) != {"init", "data"}:
        raise ConfigError(f"{where}: expected keys init and data, got {', '.join(sorted(value)) or 'none'}")
    return Seeds(init=value["init"], data=value["data"])


@dataclass(frozen=True)
class DenseSpec(_Spec):
    """A dense training run, or imported weights (``checkpoint``: ``{path, sha256}``) evaluated as one."""

    kind: ClassVar[str] = "dense"
    OPTIONAL: ClassVar[tuple[str, ...]] = ("checkpoint",)

    dataset: dict
    model: dict
    train: dict
    seed: Seeds
    checkpoint: dict | None = None

    @property
    def save_at(self) -> list[str]:
        """The training points whose weights are kept for rewinding and pruning early."""
        return list(self.train.get("save_at", []))


@dataclass(frozen=True)
class PruneSpec(_Spec):
    """Pruning the ``source`` parent (a dense run, or a branch at the previous level of an iterative chain)."""

    kind: ClassVar[str] = "prune"

    parents: dict
    at: str  # "final" or a saved training point of the dense run ("0it", "2ep")
    method: str
    hparams: dict
    sparsity: float | None  # None: the method's own preset decides what is pruned
    scope: str
    exclude: list
    steps: int
    step_schedule: str
    scoring: dict | None  # scoring batches, for methods that score on batches
    jsv: dict | None  # Jacobian singular value batches, when measured
    seed: int

    @property
    def links(self) -> dict[str, str]:
        return dict(self.parents)

    @property
    def seeds(self) -> dict:
        """Every seed the run draws from, for its provenance."""
        return {
            "prune": self.seed,
            **{part: getattr(self, part)["seed"] for part in ("scoring", "jsv") if getattr(self, part)},
        }


@dataclass(frozen=True)
class BranchSpec(_Spec):
    """Training the pruned network of ``prune`` from a start its ``type`` picks (:mod:`prunelab.branch_types`)."""

    kind: ClassVar[str] = "branch"

    parents: dict
    type: str
    rewind: str | None
    train: dict
    optimizer_state: str
    isometry: dict | None
    seed: Seeds

    @property
    def links(self) -> dict[str, str]:
        return dict(self.parents)


SPEC_TYPES: dict[str, type[_Spec]] = {cls.kind: cls for cls in (DenseSpec, PruneSpec, BranchSpec)}
RunSpec = DenseSpec | PruneSpec | BranchSpec


def parse(data: Any, where: str = "spec") -> RunSpec:
    """The typed spec of any kind; an unknown kind names the allowed ones."""
    kind = data.get("kind") if isinstance(data, dict) else None
    if kind not in SPEC_TYPES:
        raise ConfigError(f"{where}: spec kind {kind!r} is unknown (allowed: {', '.join(SPEC_TYPES)})")
    return SPEC_TYPES[kind].from_dict(data, where)  # type: ignore[return-value]
