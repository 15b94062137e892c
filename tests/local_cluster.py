"""The local SLURM cluster the SLURM tests run on (`scripts/local-slurm.sh start` brings one up)."""

import os
import shutil
import subprocess

import pytest


def cluster_up() -> bool:
    if not shutil.which("scontrol"):
        return False
    try:
        ping = subprocess.run(["scontrol", "ping"], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return "is UP" in ping.stdout


def require_cluster() -> None:
    """Outside CI a missing cluster skips (naming the script that starts one); in CI (CI=true) it fails."""
    if cluster_up():
        return
    message = "no SLURM controller answers; `scripts/local-slurm.sh start` (root, Debian) starts a local one"
    if os.environ.get("CI") == "true":
        pytest.fail(f"CI=true: {message}")
    pytest.skip(message)
