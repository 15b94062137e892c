"""``prunelab audit``: prove where every number came from, and find anything altered since.

Every output of a run, table or figure is re-hashed and compared with the sha256 its provenance recorded;
every parent link is followed and the parent's provenance re-hashed (which chains a figure down to the
dense training runs); every run's spec.json is re-hashed and compared with its directory name and with
its provenance, which is also how a run directory copied under another name is caught. Files that no
provenance covers, provenance whose outputs are gone, and (given the suite's plan) runs that the config
no longer produces or has not produced yet are reported too.

Each problem is one line ``error: <path>: <what>``; things that do not make a number wrong but deserve a
look (a minority code version, a dirty source tree, mixed torch/GPU environments behind one figure, stale
runs) are ``warning:`` lines. A file gets at most one line: once it is reported (unreadable, altered),
checks that depend on it stay quiet instead of repeating the same cause. Every file is hashed once.
"""

from __future__ import annotations

import time
from collections import Counter, defaultdict
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from prunelab.errors import ConfigError
from prunelab.records import layout
from prunelab.records.hashing import spec_hash
from prunelab.records.layout import (
    ANALYSIS_AREAS,
    NOT_OUTPUTS,
    PROVENANCE,
    RUN_FILES,
    RUN_KINDS,
    RUNS,
    SIDECAR_SUFFIX,
    SPEC,
)
from prunelab.records.run_plan import Plan
from prunelab.records.storage import write_json, write_text
from prunelab.records.tree import (
    ResultsTree,
    Run,
    code_label,
    environment_label,
    is_temporary,
    link_keys,
    primary_output,
)

EXAMPLES = 5  # paths named in the text line of a grouped warning (the JSON lists them all)


@dataclass
class Finding:
    """One problem: ``severity`` is 'error' (a number cannot be trusted) or 'warning' (worth a look)."""

    severity: str
    check: str
    path: str
    message: str
    paths: list[str] = field(default_factory=list)

    def line(self) -> str:
        return f"{self.severity}: {self.path}: {self.message}"


@dataclass
class Report:
    root: str
    findings: list[Finding]
    runs: int = 0
    tables: int = 0
    figures: int = 0
    files_hashed: int = 0
    bytes_hashed: int = 0
    seconds: float = 0.0

    @property
    def errors(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == "error"]

    @property
    def warnings(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == "warning"]

    @property
    def ok(self) -> bool:
        return not self.errors

    def lines(self) -> list[str]:
        """Errors first, then warnings, each sorted by path: stable text for diffs and reports."""
        order = {"error": 0, "warning": 1}
        return [f.line() for f in sorted(self.findings, key=lambda f: (order[f.severity], f.path, f.message))]

    def summary(self) -> str:
        return (
            f"audit {self.root}: runs {self.runs}, tables {self.tables}, figures {self.figures}; "
            f"{self.files_hashed} files ({self.bytes_hashed / 1e6:.1f} MB) hashed in {self.seconds:.2f} s; "
            f"{len(self.errors)} errors, {len(self.warnings)} warnings"
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "root": self.root,
            "ok": self.ok,
            "errors": len(self.errors),
            "warnings": len(self.warnings),
            "runs": self.runs,
            "tables": self.tables,
            "figures": self.figures,
            "files_hashed": self.files_hashed,
            "bytes_hashed": self.bytes_hashed,
            "seconds": round(self.seconds, 3),
            "findings": [asdict(f) for f in self.findings],
        }

    def write(self, text: str | Path | None = None, json_path: str | Path | None = None) -> None:
        if text:
            write_text(text, "".join(line + "\n" for line in [*self.lines(), self.summary()]))
        if json_path:
            write_json(json_path, self.as_dict())


def audit(root: str | Path, plan: Plan | None = None) -> Report:
    """Audit the results tree at ``root``; with ``plan``, also compare it with what the config produces."""
    started = time.perf_counter()
    auditor = _Auditor(ResultsTree(root), plan)
    auditor.run()
    tree = auditor.tree
    return Report(
        root=str(root),
        findings=auditor.findings,
        runs=auditor.counts["runs"],
        tables=auditor.counts["tables"],
        figures=auditor.counts["figures"],
        files_hashed=tree.files_hashed,
        bytes_hashed=tree.bytes_hashed,
        seconds=time.perf_counter() - started,
    )


class _Auditor:
    def __init__(self, tree: ResultsTree, plan: Plan | None):
        self.tree = tree
        self.plan = plan
        self.findings: list[Finding] = []
        self.reported: set[Path] = set()
        self.records: dict[str, dict] = {}  # run key -> readable provenance record
        self.analysis: dict[Path, dict] = {}  # readable table/figure sidecar -> record
        self.counts = {"runs": 0, "tables": 0, "figures": 0, "replication": 0}

    # -- findings ---------------------------------------------------------------------------------------
    def error(self, check: str, path: Path | str, message: str, paths: list[str] | None = None) -> None:
        self.findings.append(Finding("error", check, str(path), message, paths or []))

    def warning(self, check: str, path: Path | str, message: str, paths: list[str] | None = None) -> None:
        self.findings.append(Finding("warning", check, str(path), message, paths or []))

    def file_error(self, check: str, path: Path, message: str) -> None:
        """An error about one file; later checks that would only repeat it stay quiet."""
        if path not in self.reported:
            self.reported.add(path)
            self.error(check, path, message)

    # -- the whole tree ---------------------------------------------------------------------------------
    def run(self) -> None:
        root = self.tree.root
        if not root.exists():
            self.error("not-results-tree", root, "does not exist")
            return
        if not self.tree.is_results_tree():
            self.error("not-results-tree", root, "not a results tree (no runs/, tables/ or figures/ folder)")
            return
        self.check_runs_layout()
        runs = self.tree.runs()
        self.counts["runs"] = len(runs)
        for run in runs:
            self.check_run(run)
        for area in ANALYSIS_AREAS:
            self.check_analysis(area)
        self.check_code_versions()
        self.check_dirty_trees()
        self.check_figure_environments()
        if self.plan is not None:
            self.check_plan(runs)

    def check_runs_layout(self) -> None:
        """Under ``runs/`` only ``{dense,prune,branch}/<hash>/`` directories belong."""
        base = self.tree.root / RUNS
        if not base.is_dir():
            return
        for entry in sorted(base.iterdir()):
            if entry.name not in RUN_KINDS:
                self.error("no-provenance", entry, f"not a run kind (allowed: {', '.join(RUN_KINDS)})")
            elif not entry.is_dir():
                self.error("no-provenance", entry, "a file where run directories belong")
            else:
                for stray in sorted(p for p in entry.iterdir() if not p.is_dir()):
                    self.error("no-provenance", stray, "a file where run directories belong (no provenance)")

    # -- one run ----------------------------------------------------------------------------------------
    def check_run(self, run: Run) -> None:
        record_file = self.tree.provenance(run)
        present = self.run_files(run)
        if not record_file.ok:
            if record_file.error != "file not found":
                self.file_error("unreadable", run.path / PROVENANCE, record_file.error)
            elif present:
                self.error(
                    "no-provenance",
                    run.path,
                    f"{len(present)} file(s) but no provenance.json: outputs "
                    "without provenance (an interrupted or foreign run; delete it and rerun)",
                )
            else:
                self.warning("incomplete-run", run.path, "no outputs and no provenance.json (a failed or running job)")
            return
        record = record_file.data
        self.records[run.key] = record
        self.check_spec(run, record)
        outputs = record.get("outputs")
        if not isinstance(outputs, dict):
            self.file_error("malformed", run.path / PROVENANCE, "has no 'outputs' mapping")
            return
        owner = f"{run.key}/{PROVENANCE}"
        self.check_outputs(run.path, outputs, owner)
        for name in RUN_FILES[run.kind]:
            if name not in outputs:
                self.error("missing-output", run.path / name, f"a {run.kind} run's output, not listed in {owner}")
        for relative in sorted(present - set(outputs)):
            self.uncovered(run.path / relative, f"not listed in {owner} (added after the run?)")
        self.check_parents(run.path, record, owner)

    def run_files(self, run: Run) -> set[str]:
        """Files of a run directory that must be outputs: all but provenance, resume state and logs/."""
        return set(self.tree.relative_files(run.path)) - set(NOT_OUTPUTS)

    def check_spec(self, run: Run, record: dict) -> None:
        """spec.json must hash to the directory name and to the hash its provenance recorded."""
        spec_path = run.path / SPEC
        spec_file = self.tree.spec(run)
        if not spec_file.ok:
            missing = spec_file.error == "file not found"
            self.file_error(
                "missing-output" if missing else "unreadable",
                spec_path,
                "missing (every run records its spec)" if missing else spec_file.error,
            )
            return
        try:
            actual = spec_hash(spec_file.data)
        except ConfigError as exc:
            self.file_error("spec-hash", spec_path, f"cannot be hashed ({exc})")
            return
        recorded = record.get("hash")
        if actual != run.name:
            if recorded == actual:
                twin = self.tree.run_path(run.kind, actual)
                also = f"; {run.kind}/{actual} exists too" if twin.is_dir() else ""
                self.error(
                    "copied-run",
                    run.path,
                    f"spec.json and provenance.json describe run {run.kind}/{actual}, "
                    f"not {run.name}: the directory was copied or renamed{also}",
                )
            else:
                self.file_error(
                    "spec-hash",
                    spec_path,
                    f"hashes to {actual}, not to its directory name {run.name} (edited after the run?)",
                )
        elif recorded != actual:
            self.file_error(
                "spec-hash",
                run.path / PROVENANCE,
                f"records hash {recorded}, but spec.json and the directory are {actual}",
            )
        elif spec_file.data.get("kind") != run.kind:
            self.file_error("spec-hash", spec_path, f"is a {spec_file.data.get('kind')!r} spec in runs/{run.kind}/")
        elif link_keys(record.get("parents")) != (spec_file.data.get("parents") or {}):
            self.file_error("broken-link", run.path / PROVENANCE, "its parents differ from those in spec.json")

    # -- shared by runs, tables and figures ---------------------------------------------------------------
    def check_outputs(self, base: Path, outputs: dict, owner: str) -> None:
        for relative, entry in sorted(outputs.items()):
            path = base / relative
            if path in self.reported:
                continue
            expected = entry.get("sha256") if isinstance(entry, dict) else None
            actual = self.tree.sha256(path)
            if actual is None:
                self.file_error("missing-output", path, f"listed in {owner} but missing (provenance without output)")
            elif actual != expected:
                self.file_error("altered", path, f"sha256 differs from {owner} (altered or truncated since written)")

    def check_parents(self, where: Path, record: dict, owner: str) -> None:
        """Each parent must exist and its provenance.json must still hash to what was recorded."""
        links = record.get("parents") or {}
        if not isinstance(links, dict):
            self.file_error("malformed", self.tree.root / owner, "'parents' is not a mapping")
            return
        keys = link_keys(links)
        for role in sorted(set(links) - set(keys)):
            self.error("malformed", where, f"parent link {role!r} in {owner} lacks kind/hash")
        for role, key in sorted(keys.items(), key=lambda item: item[1]):
            parent = self.tree.run(key)
            named = key if role == key else f"{key} ({role})"
            parent_record = self.tree.provenance(parent)
            if parent_record.error == "file not found":
                state = "has no provenance.json (incomplete)" if parent.path.is_dir() else "is missing"
                self.error("broken-link", where, f"parent {named} {state}: broken link")
            elif parent_record.ok and parent_record.sha256 != links[role].get("provenance_sha256"):
                self.error(
                    "parent-changed",
                    where,
                    f"parent {named} was rerun or edited after this was "
                    "made (its provenance.json no longer matches the recorded sha256)",
                )

    def uncovered(self, path: Path, message: str) -> None:
        if is_temporary(path.name):
            self.warning("temporary-file", path, "leftover of an interrupted write; safe to delete")
        else:
            self.file_error("no-provenance", path, message)

    # -- tables and figures -------------------------------------------------------------------------------
    def check_analysis(self, area: str) -> None:
        """Each sidecar's outputs, inputs and parent runs; then files that no sidecar covers."""
        covered: set[Path] = set()
        sidecars = self.tree.sidecars(area)
        self.counts[area] = len(sidecars)
        for sidecar in sidecars:
            covered.add(sidecar)
            record_file = self.tree.json(sidecar)
            if not record_file.ok:
                self.file_error("unreadable", sidecar, record_file.error)
                stem = sidecar.name[: -len(SIDECAR_SUFFIX)] + "."
                covered |= {p for p in sidecar.parent.iterdir() if p.name.startswith(stem)}  # one line suffices
                continue
            record = record_file.data
            self.analysis[sidecar] = record
            outputs = record.get("outputs") if isinstance(record.get("outputs"), dict) else {}
            inputs = record.get("inputs") if isinstance(record.get("inputs"), dict) else {}
            if not outputs:
                self.file_error("malformed", sidecar, "lists no outputs")
            covered |= {self.tree.root / p for p in (*outputs, *inputs)}
            owner = str(sidecar.relative_to(self.tree.root))
            self.check_outputs(self.tree.root, outputs, owner)
            artifact = self.artifact(sidecar, record)
            for relative, expected in sorted(inputs.items()):
                path = self.tree.root / relative
                if path in self.reported:
                    continue
                actual = self.tree.sha256(path)
                if actual is None:
                    self.error("missing-input", artifact, f"made from {relative}, which is missing")
                elif actual != expected:
                    self.error("input-changed", artifact, f"made from a different version of {relative} (rerun it)")
            self.check_parents(artifact, record, owner)
        for path in self.tree.files(self.tree.root / area):
            if path not in covered:
                self.uncovered(path, "no provenance sidecar lists it")

    def artifact(self, sidecar: Path, record: dict) -> Path:
        """The file people know a sidecar by: its first output (the CSV, the PNG)."""
        primary = primary_output(record)
        return self.tree.root / primary if primary else sidecar

    def figure_runs(self, record: dict) -> set[str]:
        """Every run behind a figure: the runs its tables read, and all their ancestors."""
        direct: set[str] = set()
        for relative in record.get("inputs") or {}:
            table = self.analysis.get(layout.sidecar(self.tree.root / relative))
            if table is not None:
                direct |= set(link_keys(table.get("parents")).values())
        return self.tree.ancestry(direct)

    # -- across the tree ------------------------------------------------------------------------------------
    def check_code_versions(self) -> None:
        """Runs made by another code version than most runs (one line per version)."""
        by_code: dict[str, list[str]] = defaultdict(list)
        for key, record in self.records.items():
            by_code[code_label(record)].append(key)
        if len(by_code) < 2:
            return
        majority, _ = Counter({label: len(keys) for label, keys in by_code.items()}).most_common(1)[0]
        for label, keys in sorted(by_code.items()):
            if label != majority:
                paths = [str(self.tree.run(k).path) for k in sorted(keys)]
                self.warning(
                    "code-version",
                    paths[0],
                    f"{len(keys)} run(s) made by code {label}, most runs by "
                    f"{majority} ({len(by_code[majority])}): {_examples(keys)}",
                    paths,
                )

    def check_dirty_trees(self) -> None:
        """Runs, tables and figures made from a source tree with uncommitted changes."""
        dirty: dict[str, list[str]] = defaultdict(list)
        for key, record in self.records.items():
            if (record.get("code") or {}).get("dirty"):
                dirty[code_label(record)].append(str(self.tree.run(key).path))
        for sidecar, record in self.analysis.items():
            if (record.get("code") or {}).get("dirty"):
                dirty[code_label(record)].append(str(self.artifact(sidecar, record)))
        for label, paths in sorted(dirty.items()):
            paths.sort()
            self.warning(
                "dirty-tree",
                paths[0],
                f"{len(paths)} output(s) made from a source tree with uncommitted "
                f"changes ({label}); the commit alone does not reproduce them: {_examples(paths)}",
                paths,
            )

    def check_figure_environments(self) -> None:
        """One figure's numbers should come from one torch version and one kind of device."""
        for sidecar, record in sorted(self.analysis.items()):
            if not sidecar.is_relative_to(self.tree.root / "figures"):
                continue
            groups: dict[str, list[str]] = defaultdict(list)
            for key in self.figure_runs(record):
                if key in self.records:
                    groups[environment_label(self.records[key])].append(key)
            if len(groups) > 1:
                parts = "; ".join(
                    f"{label} ({len(keys)} runs, e.g. {sorted(keys)[0]})"
                    for label, keys in sorted(groups.items(), key=lambda g: -len(g[1]))
                )
                self.warning(
                    "mixed-environment",
                    self.artifact(sidecar, record),
                    f"its runs come from {len(groups)} environments: {parts}",
                    sorted(k for keys in groups.values() for k in keys),
                )

    def check_plan(self, runs: list[Run]) -> None:
        """Compare the tree with what the config would produce now: missing and stale runs and tables."""
        plan, root = self.plan, self.tree.root
        planned = {f"{spec['kind']}/{h}" for h, spec in plan.specs.items()}
        present = {run.key for run in runs}
        for key in sorted(planned - present):
            self.error(
                "missing-planned", self.tree.run(key).path, "planned by the config but missing (run the workflow)"
            )
        for key in sorted(present - planned):
            self.warning(
                "stale",
                self.tree.run(key).path,
                "stale: not in the config's plan (its spec differs "
                "from what the config produces now, or it belongs to another suite)",
            )
        suite = plan.config.get("suite", "")
        for name, rows in sorted(plan.experiments.items()):
            table = root / "tables" / suite / f"{name}.csv"
            record = self.analysis.get(layout.sidecar(table))
            if not table.exists():
                self.error("missing-planned", table, "planned by the config but missing (run the workflow)")
            elif record is not None:
                wanted = {f"{r['kind']}/{r['run']}" for r in rows}
                read = set(link_keys(record.get("parents")).values())
                if wanted != read:
                    self.warning(
                        "stale",
                        table,
                        f"stale: built from other runs than the config plans now "
                        f"({len(read - wanted)} not planned, {len(wanted - read)} planned but not read; "
                        "rerun the workflow)",
                    )
        for name in sorted(plan.figures):
            figure = root / "figures" / suite / f"{name}.png"
            if not figure.exists():
                self.error("missing-planned", figure, "planned by the config but missing (run the workflow)")
        for sidecar in sorted(self.analysis):
            area, _, rest = str(sidecar.relative_to(root)).partition("/")
            stem = rest[len(suite) + 1 : -len(SIDECAR_SUFFIX)] if rest.startswith(suite + "/") else None
            names = plan.experiments if area == "tables" else plan.figures
            if stem is not None and "/" not in stem and stem not in names:
                self.warning(
                    "stale",
                    self.artifact(sidecar, self.analysis[sidecar]),
                    f"stale: not in the config's plan for suite {suite!r}",
                )


def _examples(items: list[str]) -> str:
    shown = ", ".join(sorted(items)[:EXAMPLES])
    return shown + (f" (+{len(items) - EXAMPLES} more)" if len(items) > EXAMPLES else "")


def audit_run(tree: ResultsTree, run: Run) -> list[Finding]:
    """The checks of one run directory (outputs, spec, parent links), for ``prunelab show``."""
    auditor = _Auditor(tree, None)
    auditor.check_run(run)
    return auditor.findings
