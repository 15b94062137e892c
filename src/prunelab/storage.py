"""Atomic writes and safe loads for every file prunelab produces.

Every output is written to a temporary name in its final directory, flushed and fsynced, then renamed
over the final name, so a kill at any moment leaves either the old file or the new one, never half of
one. Tensors are loaded with ``weights_only=True`` and any failure becomes one :class:`CheckpointError`
line naming the file (and, when known, the rule that produces it) instead of a pickle traceback.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

from prunelab.errors import CheckpointError

TEMP_PREFIX = ".tmp-"


@contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success fsync it and rename it into place."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=TEMP_PREFIX + path.name + ".", dir=path.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        with open(tmp, "rb") as handle:
            os.fsync(handle.fileno())
        os.replace(tmp, path)
        _fsync_dir(path.parent)
    finally:
        if tmp.exists():
            tmp.unlink()


def _fsync_dir(directory: Path) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def write_text(path: str | Path, text: str) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def write_json(path: str | Path, data: Any) -> None:
    write_text(path, json.dumps(data, indent=2, sort_keys=True, allow_nan=True) + "\n")


def save_tensors(path: str | Path, obj: Any) -> None:
    """``torch.save`` atomically; ``obj`` must hold only tensors and plain Python values."""
    import torch  # in the functions: tables, figures and the Snakefile's parse use this module without tensors

    with atomic_path(path) as tmp:
        torch.save(obj, tmp)


def load_tensors(path: str | Path, producer: str | None = None, map_location: str | torch.device = "cpu") -> Any:
    """``torch.load(weights_only=True)``; a missing, truncated or corrupt file is one clear error."""
    import torch

    path = Path(path)
    hint = f" (produced by rule '{producer}'; delete it and rerun that rule)" if producer else ""
    if not path.exists():
        raise CheckpointError(f"{path}: file not found{hint}")
    try:
        return torch.load(path, map_location=map_location, weights_only=True)
    except Exception as exc:  # torch raises RuntimeError, UnpicklingError, EOFError, zipfile errors ...
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise CheckpointError(f"{path}: corrupt or truncated tensor file ({reason[:160]}){hint}") from None


def load_json(path: str | Path, producer: str | None = None) -> Any:
    path = Path(path)
    hint = f" (produced by rule '{producer}')" if producer else ""
    try:
        with open(path, encoding="utf-8") as handle:
            return json.load(handle)
    except FileNotFoundError:
        raise CheckpointError(f"{path}: file not found{hint}") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise CheckpointError(f"{path}: unreadable JSON ({exc}){hint}") from None


def sha256_file(path: str | Path, chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(chunk):
            digest.update(block)
    return digest.hexdigest()
