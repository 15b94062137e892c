"""Shared fixtures: tiny networks, the embedded dataset, and a helper to run Snakemake in a temp dir."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


# One thread for every test, set before any fixture trains: bit-exact comparisons need the same reduction order.
torch.set_num_threads(1)


@pytest.fixture(scope="session")
def digits28():
    from prunelab.data.tensors import load_dataset

    return load_dataset({"name": "digits", "size": 28, "channels": 1, "validation": 100})


def snakemake(workdir: Path, *args: str, check: bool = True, timeout: int = 900) -> subprocess.CompletedProcess:
    """Run the project's Snakefile with ``workdir`` as working directory and return the finished process."""
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}
    cmd = [str(BIN / "snakemake"), "--snakefile", str(ROOT / "Snakefile"), "--directory", str(workdir), *args]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=timeout)
    if check and proc.returncode != 0:
        raise AssertionError(
            f"snakemake {' '.join(args)} failed ({proc.returncode}):\n{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}"
        )
    return proc


def planned_jobs(proc: subprocess.CompletedProcess) -> dict[str, int]:
    """Job counts per rule from a dry run's 'Job stats' table (empty when nothing is to be done)."""
    counts: dict[str, int] = {}
    text = proc.stdout + proc.stderr
    if "Job stats:" not in text:
        return counts
    table = text.split("Job stats:", 1)[1].splitlines()
    for line in table[3:]:
        parts = line.split()
        if len(parts) != 2 or not parts[1].isdigit():
            break
        if parts[0] != "total":
            counts[parts[0]] = int(parts[1])
    return counts


@pytest.fixture
def workdir(tmp_path):
    return tmp_path


def copy_config(name: str, dest: Path) -> Path:
    shutil.copy(ROOT / name, dest / "config.yaml")
    return dest / "config.yaml"


class TickingClock:
    """Advances by one 'second' every time it is read, so wall-time checkpoints fall at fixed iterations."""

    def __init__(self):
        self.now = 0.0

    def __call__(self) -> float:
        self.now += 1.0
        return self.now
