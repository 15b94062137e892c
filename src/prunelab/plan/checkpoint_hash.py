"""The sha256 of an imported dense checkpoint, read once at planning time: it joins the dense run spec, so a
different file is a different run (loading the weights, with torch, is ``prunelab.jobs.imported``)."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from prunelab.errors import ConfigError
from prunelab.records.storage import sha256_file


@cache
def _digest(path: str, size: int, mtime_ns: int) -> str:
    return sha256_file(path)


def checkpoint_spec(path: str, key: str) -> dict:
    """``{"path", "sha256"}`` of a configured checkpoint file; a missing file names the config ``key``."""
    file = Path(path)
    if not file.is_file():
        raise ConfigError(f"config key {key}: checkpoint file {path} not found")
    stat = file.stat()
    return {"path": str(path), "sha256": _digest(str(file), stat.st_size, stat.st_mtime_ns)}
