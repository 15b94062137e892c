"""Reading a results tree: where runs, tables and figures live, and their provenance, each file read once.

``prunelab audit``, ``lineage``, ``show`` and ``list`` walk the same tree (laid out as :mod:`prunelab.records.layout`
says): ``runs/{kind}/{hash}/`` (spec.json, outputs, provenance.json), ``tables/<suite>/`` and ``figures/<suite>/``
(outputs with ``<name>.provenance.json`` sidecars), with ``logs/`` folders beside them. Every file's sha256
and every parsed JSON file is cached, so a command that looks at a parent from many children (a dense run
behind thousands of pruned ones) reads and hashes it exactly once.

The helpers at the bottom turn a provenance record into the short labels people read: the code version,
the device a run used and the environment that can change its numbers.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from prunelab.records.layout import AREAS, LOGS, PROVENANCE, RUN_KINDS, RUNS, SIDECAR_SUFFIX, SPEC
from prunelab.records.storage import TEMP_PREFIX, sha256_file

PRIMARY_ROLES = ("table", "png")


@dataclass(frozen=True)
class Run:
    """One run directory, named ``kind/hash`` the way specs and provenance link to it."""

    kind: str
    name: str
    path: Path

    @property
    def key(self) -> str:
        return f"{self.kind}/{self.name}"


@dataclass
class JsonFile:
    """A parsed JSON file and the sha256 of its bytes, or why it could not be read."""

    data: Any = None
    sha256: str | None = None
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


class ResultsTree:
    """A results root with per-command caches of file hashes and parsed JSON."""

    def __init__(self, root: str | Path):
        self.root = Path(root)
        self._sha: dict[Path, str | None] = {}
        self._json: dict[Path, JsonFile] = {}
        self._runs: dict[str, Run] = {}
        self._provenance: dict[str, JsonFile] = {}
        self.files_hashed = 0
        self.bytes_hashed = 0

    def is_results_tree(self) -> bool:
        return self.root.is_dir() and any((self.root / area).is_dir() for area in AREAS)

    # -- hashing and parsing, once per file ------------------------------------------------------------
    def sha256(self, path: str | Path) -> str | None:
        """sha256 of the file, or None when it is missing or unreadable."""
        path = Path(path)
        if path not in self._sha:
            try:
                self._sha[path] = sha256_file(path)
                self.files_hashed += 1
                self.bytes_hashed += path.stat().st_size
            except OSError:
                self._sha[path] = None
        return self._sha[path]

    def json(self, path: str | Path) -> JsonFile:
        """The parsed file; its sha256 comes from the same bytes, so it is never read twice."""
        path = Path(path)
        if path not in self._json:
            self._json[path] = self._load_json(path)
        return self._json[path]

    def _load_json(self, path: Path) -> JsonFile:
        try:
            raw = path.read_bytes()
        except FileNotFoundError:
            return JsonFile(error="file not found")
        except OSError as exc:
            return JsonFile(error=f"unreadable ({exc.strerror or exc})")
        digest = hashlib.sha256(raw).hexdigest()
        if path not in self._sha:
            self._sha[path] = digest
            self.files_hashed += 1
            self.bytes_hashed += len(raw)
        try:
            data = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            reason = (
                f"line {exc.lineno} column {exc.colno}: {exc.msg}"
                if isinstance(exc, json.JSONDecodeError)
                else "not UTF-8 text"
            )
            return JsonFile(sha256=digest, error=f"unreadable JSON ({reason}; truncated or edited?)")
        if not isinstance(data, dict):
            return JsonFile(sha256=digest, error=f"unreadable JSON (a {type(data).__name__}, not an object)")
        return JsonFile(data=data, sha256=digest)

    # -- runs ------------------------------------------------------------------------------------------
    def run_path(self, kind: str, name: str) -> Path:
        """``runs/{kind}/{name}`` for any kind a link names (the audit reports unknown kinds)."""
        return self.root / RUNS / kind / name

    def run(self, key: str) -> Run:
        """The run a ``kind/hash`` link names (whether or not its directory exists)."""
        if key not in self._runs:
            kind, _, name = key.partition("/")
            self._runs[key] = Run(kind, name, self.run_path(kind, name))
        return self._runs[key]

    def runs(self) -> list[Run]:
        """Every directory under ``runs/{kind}/`` for the known kinds, sorted by kind then hash."""
        found = []
        for kind in RUN_KINDS:
            base = self.root / RUNS / kind
            if base.is_dir():
                found += [Run(kind, entry.name, Path(entry.path)) for entry in _sorted_scandir(base) if entry.is_dir()]
        self._runs.update((run.key, run) for run in found)
        return found

    def provenance(self, run: Run) -> JsonFile:
        if run.key not in self._provenance:
            self._provenance[run.key] = self.json(run.path / PROVENANCE)
        return self._provenance[run.key]

    def spec(self, run: Run) -> JsonFile:
        return self.json(run.path / SPEC)

    # -- tables and figures -----------------------------------------------------------------------------
    def sidecars(self, area: str) -> list[Path]:
        """Every ``*.provenance.json`` under ``tables/`` or ``figures/`` (outside ``logs/``), sorted."""
        return sorted(p for p in self.files(self.root / area) if p.name.endswith(SIDECAR_SUFFIX))

    def relative_files(self, base: Path) -> list[str]:
        """Paths relative to ``base`` of its files outside ``logs/`` (plain strings: this runs per run dir)."""
        prefix = len(str(base)) + 1
        found: list[str] = []
        for folder, dirs, names in os.walk(base):
            dirs[:] = [d for d in dirs if d != LOGS]
            found += [os.path.join(folder, name)[prefix:] for name in names]
        return found

    def files(self, base: Path) -> Iterator[Path]:
        """Files under ``base``, skipping ``logs/`` folders (logs are not outputs)."""
        if not base.is_dir():
            return
        for folder, dirs, names in os.walk(base):
            dirs[:] = sorted(d for d in dirs if d != LOGS)
            for name in sorted(names):
                yield Path(folder) / name

    # -- links between them -----------------------------------------------------------------------------
    def parents(self, run: Run) -> dict[str, str]:
        """``{role: kind/hash}`` of a run's parents: from its provenance, else from its spec.json."""
        record = self.provenance(run)
        if record.ok:
            return link_keys(record.data.get("parents"))
        spec = self.spec(run)
        links = spec.data.get("parents") if spec.ok else None
        return {str(r): str(k) for r, k in links.items()} if isinstance(links, dict) else {}

    def ancestry(self, keys: Iterator[str] | list[str] | set[str]) -> set[str]:
        """``keys`` and every run they descend from (the runs behind a table or figure)."""
        seen: set[str] = set()
        stack = list(keys)
        while stack:
            key = stack.pop()
            if key not in seen:
                seen.add(key)
                stack += self.parents(self.run(key)).values()
        return seen


def _sorted_scandir(path: Path) -> list[os.DirEntry]:
    with os.scandir(path) as entries:
        return sorted(entries, key=lambda e: e.name)


def link_keys(links: Any) -> dict[str, str]:
    """``{role: kind/hash}`` from provenance ``parents`` (``{role: {kind, hash, provenance_sha256}}``);
    malformed entries are left out (the audit reports them)."""
    if not isinstance(links, dict):
        return {}
    return {
        str(role): f"{link['kind']}/{link['hash']}"
        for role, link in links.items()
        if isinstance(link, dict) and isinstance(link.get("kind"), str) and isinstance(link.get("hash"), str)
    }


def primary_output(record: dict) -> str | None:
    """The output a sidecar is known by: the table's CSV or the figure's PNG (else the first listed)."""
    outputs = record.get("outputs")
    if not isinstance(outputs, dict) or not outputs:
        return None
    by_role = {entry.get("role"): path for path, entry in sorted(outputs.items()) if isinstance(entry, dict)}
    return next((by_role[role] for role in PRIMARY_ROLES if role in by_role), sorted(outputs)[0])


def is_temporary(name: str) -> bool:
    """A leftover of an atomic write that was killed before its rename (storage.atomic_path)."""
    return name.startswith(TEMP_PREFIX)


# -- labels read from a provenance record -------------------------------------------------------------
def code_label(record: dict) -> str:
    """``0.1.0@bbc59f7`` (+ ``+dirty.<diff hash>`` when the source tree had uncommitted changes)."""
    code = record.get("code") or {}
    label = str(code.get("version", "?"))
    if code.get("git_commit"):
        label += "@" + str(code["git_commit"])[:7]
    if code.get("dirty"):
        label += "+dirty" + (f".{str(code['diff_sha256'])[:8]}" if code.get("diff_sha256") else "")
    return label


def device_label(record: dict) -> str:
    """The device a run computed on: its GPU's name for a CUDA device, else the recorded device (or cpu).

    Older records without ``device`` are taken to have used the GPU whenever CUDA was available."""
    hardware, environment = record.get("hardware") or {}, record.get("environment") or {}
    device = str(record.get("device") or ("cuda" if environment.get("cuda") else "cpu"))
    if device.startswith("cuda") and hardware.get("gpu"):
        return str(hardware["gpu"])
    return device


def deterministic(record: dict) -> bool:
    """Whether the run's numbers are reproducible bit for bit from its spec on the same setup.

    On a CPU they are, whatever torch's flag says: its CPU kernels are deterministic (a killed and resumed
    run matches an uninterrupted one, tests/test_robustness.py), and the workflow never sets the flag there
    because importing the switch costs seconds. On a GPU they are when deterministic algorithms were on and
    cudnn autotuning off (runtime.deterministic, runtime.cudnn_benchmark)."""
    if device_label(record).startswith("cpu"):
        return True
    environment = record.get("environment") or {}
    return bool(environment.get("deterministic_algorithms")) and not environment.get("cudnn_benchmark")


def environment_label(record: dict) -> str:
    """What of the environment can change a run's numbers: torch, CUDA and the device."""
    environment = record.get("environment") or {}
    cuda = f", CUDA {environment['cuda']}" if environment.get("cuda") else ""
    return f"torch {environment.get('torch', '?')}{cuda} on {device_label(record)}"
