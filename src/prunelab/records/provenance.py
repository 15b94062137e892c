"""Provenance sidecars: what produced every output, written last and atomically.

``provenance.json`` in a run directory (or ``<file>.provenance.json`` beside a table or figure) records the
spec and its hash, each parent (hash + sha256 of the parent's provenance, which chains the whole lineage),
the sha256 of every output, the code (package version, git commit, dirty flag and a hash of the diff), the
software and hardware environment, the seeds, timing, host and SLURM job id. Because it is written after
every output, its presence means the run completed; ``prunelab audit`` re-hashes everything against it.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import os
import platform
import socket
import subprocess
from functools import lru_cache
from pathlib import Path
from typing import Any

from prunelab import __version__
from prunelab.records import layout
from prunelab.records.hashing import spec_hash
from prunelab.records.storage import sha256_file, write_json

WORKER_PID_ENV = "PRUNELAB_JOB_WORKER_PID"
SCHEMA_VERSION = 1


def now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


def _git(*args: str, cwd: Path) -> str | None:
    try:
        out = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, timeout=20, check=True)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout


@lru_cache(maxsize=1)
def code_info() -> dict:
    """Package version plus the git commit, dirty flag and diff hash of the source tree, when it is a checkout."""
    source = Path(__file__).resolve().parent
    info: dict[str, Any] = {
        "package": "prunelab",
        "version": __version__,
        "git_commit": None,
        "dirty": None,
        "diff_sha256": None,
    }
    top = _git("rev-parse", "--show-toplevel", cwd=source)
    if top:
        root = Path(top.strip())
        commit = _git("rev-parse", "HEAD", cwd=root)
        diff = _git("diff", "HEAD", "--", "src", "workflow", "Snakefile", cwd=root)
        info["git_commit"] = commit.strip() if commit else None
        if diff is not None:
            info["dirty"] = bool(diff.strip())
            info["diff_sha256"] = hashlib.sha256(diff.encode()).hexdigest() if diff.strip() else None
    return info


def _version(module: str) -> str | None:
    try:
        from importlib.metadata import version

        return version(module)
    except Exception:
        return None


@lru_cache(maxsize=1)
def environment_info() -> dict:
    import numpy
    import torch

    cuda = torch.version.cuda if torch.cuda.is_available() else None
    return {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "torchvision": _version("torchvision"),
        "snakemake": _version("snakemake"),
        "numpy": numpy.__version__,
        "cuda": cuda,
        "cudnn": torch.backends.cudnn.version() if cuda else None,
        "deterministic_algorithms": torch.are_deterministic_algorithms_enabled(),
        "cudnn_benchmark": bool(torch.backends.cudnn.benchmark),
        "num_threads": torch.get_num_threads(),
    }


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


@lru_cache(maxsize=1)
def hardware_info() -> dict:
    import torch

    gpus = (
        [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())] if torch.cuda.is_available() else []
    )
    return {"cpu": _cpu_model(), "cpu_count": os.cpu_count(), "gpu": gpus[0] if gpus else None, "gpu_count": len(gpus)}


def host_info() -> dict:
    return {
        "host": socket.gethostname(),
        "slurm_job_id": os.environ.get("SLURM_JOB_ID"),
        "slurm_array_task_id": os.environ.get("SLURM_ARRAY_TASK_ID"),
        # pid of the job worker this job was forked from (prunelab/cli/worker.py); None: a process of its own
        "job_worker": os.environ.get(WORKER_PID_ENV),
    }


def parent_link(parent_dir: str | Path) -> dict:
    """``{kind, hash, provenance_sha256}`` of a finished parent run at ``results/runs/{kind}/{hash}``.

    No absolute path is stored, so a results tree can be moved or handed to a reviewer and still audited.
    """
    parent_dir = Path(parent_dir)
    return {
        "kind": parent_dir.parent.name,
        "hash": parent_dir.name,
        "provenance_sha256": sha256_file(parent_dir / layout.PROVENANCE),
    }


def build(
    outputs: dict[str, str | Path],
    *,
    spec: dict | None = None,
    parents: dict[str, str | Path] | None = None,
    inputs: list[str | Path] | None = None,
    seeds: dict | None = None,
    started: str | None = None,
    extra: dict | None = None,
    relative_to: str | Path | None = None,
) -> dict:
    """The provenance record; ``outputs`` maps a role to a file whose sha256 is recorded."""
    base = Path(relative_to).resolve() if relative_to else None

    def rel(p: str | Path) -> str:
        p = Path(p).resolve()
        return str(p.relative_to(base)) if base is not None and p.is_relative_to(base) else str(p)

    record: dict[str, Any] = {
        "schema": SCHEMA_VERSION,
        "outputs": {rel(path): {"role": role, "sha256": sha256_file(path)} for role, path in outputs.items()},
        "parents": {role: parent_link(d) for role, d in (parents or {}).items()},
        "inputs": {rel(p): sha256_file(p) for p in (inputs or [])},
        "code": code_info(),
        "environment": environment_info(),
        "hardware": hardware_info(),
        "host": host_info(),
        "seeds": seeds or {},
        "started": started,
        "finished": now(),
    }
    if spec is not None:
        record["spec"] = spec
        record["hash"] = spec_hash(spec)
    if extra:
        record.update(extra)
    return record


def write(path: str | Path, record: dict) -> None:
    """Write the record atomically; call this after every output exists."""
    write_json(path, record)
