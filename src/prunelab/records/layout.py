"""Where everything lives under ``results``: run directories, their files, tables, figures and sidecars.

The Snakefile, the jobs and the readers of a finished tree (``audit``, ``lineage``, ``show``, ``gc``) all
name paths through this module, so the layout is written down once. It imports nothing of prunelab and no
third-party package: the workflow's parse and ``prunelab audit`` must not pay for torch to build a path.

::

    runs/{kind}/{hash}/          spec.json, the kind's outputs, provenance.json (written last), logs/
    groups/{group}/              a seed group's marker (group.json), log and resume state
    tables/{suite}/{name}.csv    + .manifest.json, .provenance.json, logs/
    figures/{suite}/{name}.png   + .pdf, .csv, .summary.rst, .provenance.json, logs/
    replication/{suite}.csv      + .md, .provenance.json, logs/
    report/{suite}/              the report's provenance summary and config copy
    audit/{suite}.txt            + .json, logs/
"""

from __future__ import annotations

from pathlib import Path

RUN_KINDS = ("dense", "prune", "branch")
RUNS = "runs"
GROUPS = "groups"
GROUP_MARKER = "group.json"  # written after every member of a seed group; the file Snakemake tracks
TABLES = "tables"
FIGURES = "figures"
REPLICATION = "replication"
REPORT = "report"
AUDIT = "audit"
AREAS = (RUNS, TABLES, FIGURES, REPLICATION)  # what `audit` walks and `lineage` resolves
ANALYSIS_AREAS = (TABLES, FIGURES, REPLICATION)  # outputs with sidecars rather than run directories
LOGS = "logs"

SPEC = "spec.json"
METRICS = "metrics.json"
MODEL = "model.pt"
MASK = "mask.pt"
SNAPSHOTS = "snapshots.pt"  # a dense run's weights (and optimizer state) at its save_at points
PROVENANCE = "provenance.json"  # a run's record, written after every other output
TRAIN_STATE = "train_state.pt"  # resume state of a training job, deleted once the run is complete
SIDECAR_SUFFIX = ".provenance.json"
# each run kind's outputs, provenance.json not included (it is written last and lists these)
RUN_FILES = {
    "dense": (MODEL, SNAPSHOTS, METRICS, SPEC),
    "prune": (MASK, METRICS, SPEC),
    "branch": (MODEL, MASK, METRICS, SPEC),
}
NOT_OUTPUTS = (PROVENANCE, TRAIN_STATE)  # files of a run directory that no provenance lists as an output


def run_dir(results: str | Path, kind: str, run_hash: str) -> Path:
    """``results/runs/{kind}/{hash}``: where every output of one run lives."""
    if kind not in RUN_KINDS:
        raise ValueError(f"unknown run kind {kind!r}")
    return Path(results) / RUNS / kind / run_hash


def run_files(kind: str) -> tuple[str, ...]:
    """Every file a finished run of ``kind`` has, provenance.json last."""
    return (*RUN_FILES[kind], PROVENANCE)


def link(kind: str, run_hash: str) -> str:
    """``kind/hash``: how specs, provenance records and manifests refer to a run."""
    return f"{kind}/{run_hash}"


def linked_dir(results: str | Path, run_link: str) -> Path:
    """The directory of a ``kind/hash`` link."""
    return Path(results) / RUNS / run_link


def parent_dirs(parents: dict[str, str], results: str | Path) -> dict[str, Path]:
    """``{role: directory}`` for a child spec's ``{role: kind/hash}`` parent links."""
    return {role: linked_dir(results, run_link) for role, run_link in parents.items()}


def group_dir(results: str | Path, group: str) -> Path:
    """``results/groups/{group hash}``: a seed group's marker, log and resume checkpoint."""
    return Path(results) / GROUPS / group


def table(results: str | Path, suite: str, name: str, suffix: str = ".csv") -> Path:
    """A table of ``suite``, or (``suffix``) its manifest or sidecar."""
    return Path(results) / TABLES / suite / f"{name}{suffix}"


def figure(results: str | Path, suite: str, name: str, suffix: str = ".png") -> Path:
    """A figure of ``suite``, or (``suffix``) its PDF, plotted values, summary or sidecar."""
    return Path(results) / FIGURES / suite / f"{name}{suffix}"


def replication(results: str | Path, suite: str, suffix: str = ".csv") -> Path:
    """The suite's verdict table, or (``suffix``) its Markdown or sidecar."""
    return Path(results) / REPLICATION / f"{suite}{suffix}"


def report_file(results: str | Path, suite: str, name: str) -> Path:
    """A file of the suite's report provenance (``runs_provenance.csv``, ``config.yaml``, ...)."""
    return Path(results) / REPORT / suite / name


def audit_report(results: str | Path, suite: str, suffix: str = ".txt") -> Path:
    """The suite's audit report (``.txt``) or its machine-readable form (``.json``)."""
    return Path(results) / AUDIT / f"{suite}{suffix}"


def log(output: str | Path, name: str) -> Path:
    """``name`` in the ``logs/`` folder beside ``output``."""
    return Path(output).parent / LOGS / name


def sidecar(path: str | Path) -> Path:
    """The provenance sidecar of a table or figure file: ``x.csv``/``x.png``/``x.pdf`` → ``x.provenance.json``;
    a sidecar is its own."""
    path = Path(path)
    if path.name.endswith(SIDECAR_SUFFIX):
        return path
    return path.with_name(path.stem + SIDECAR_SUFFIX)
