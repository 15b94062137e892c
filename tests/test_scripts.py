"""The repository's shell scripts: bad arguments give one usage line on stderr and a non-zero exit, and a
second layout of Fashion-MNIST changes nothing (idempotent). The real runs (cluster start/stop, apt-get) are
exercised by .ci/run and .ci/slurm.sh, not here."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPTS = ["scripts/local-slurm.sh", "scripts/fashion-mnist-debian.sh"]
DEBIAN_FASHION_MNIST = Path("/usr/share/datasets/fashion-mnist")


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(ROOT / args[0]), *args[1:]], capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize("script", SCRIPTS)
def test_scripts_are_executable_and_strict(script):
    path = ROOT / script
    assert os.access(path, os.X_OK), f"{script} is not executable"
    assert "set -euo pipefail" in path.read_text()
    assert subprocess.run(["bash", "-n", str(path)], capture_output=True).returncode == 0


@pytest.mark.parametrize(
    "args",
    [
        ("scripts/local-slurm.sh",),
        ("scripts/local-slurm.sh", "restart"),
        ("scripts/fashion-mnist-debian.sh",),
        ("scripts/fashion-mnist-debian.sh", "a", "b"),
    ],
)
def test_bad_arguments_give_one_usage_line(args):
    proc = run(*args)
    assert proc.returncode != 0 and proc.stdout == ""
    assert proc.stderr.count("\n") == 1 and "usage: " + args[0] in proc.stderr


def test_fashion_mnist_layout_is_idempotent(tmp_path):
    if not all(
        (DEBIAN_FASHION_MNIST / f"{name}.gz").is_file()
        for name in ("train-images-idx3-ubyte", "t10k-labels-idx1-ubyte")
    ):
        pytest.skip(f"Debian's dataset-fashion-mnist is not installed ({DEBIAN_FASHION_MNIST})")
    first = run("scripts/fashion-mnist-debian.sh", str(tmp_path))
    assert first.returncode == 0, first.stderr
    raw = tmp_path / "FashionMNIST" / "raw"
    files = sorted(p.name for p in raw.iterdir())
    assert files == [
        "t10k-images-idx3-ubyte",
        "t10k-labels-idx1-ubyte",
        "train-images-idx3-ubyte",
        "train-labels-idx1-ubyte",
    ]
    # IDX headers: 28×28 images, 60,000 training and 10,000 test examples
    assert (raw / "train-images-idx3-ubyte").stat().st_size == 16 + 60_000 * 28 * 28
    assert (raw / "t10k-labels-idx1-ubyte").stat().st_size == 8 + 10_000
    stamps = {name: (raw / name).stat().st_mtime_ns for name in files}
    again = run("scripts/fashion-mnist-debian.sh", str(tmp_path))
    assert again.returncode == 0 and {name: (raw / name).stat().st_mtime_ns for name in files} == stamps
