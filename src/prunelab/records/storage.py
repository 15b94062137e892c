"""Atomic writes and safe loads for every file prunelab produces.

Every output is written to a temporary name in its final directory, flushed and fsynced, then renamed
over the final name, so a kill at any moment leaves either the old file or the new one, never half of
one. Tensors are loaded with ``weights_only=True`` and any failure becomes one :class:`CheckpointError`
line naming the file (and, when known, the rule that produces it) instead of a pickle traceback. A write
that fails because the filesystem is full or the quota used up becomes one :class:`StorageError` line
naming the file, the filesystem and its free space, instead of torch's stream errors.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from prunelab.errors import CheckpointError, StorageError

if TYPE_CHECKING:
    import torch

TEMP_PREFIX = ".tmp-"
FULL = {errno.ENOSPC: "no space left on device", errno.EDQUOT: "disk quota exceeded"}
PROBE_BYTES = 1 << 16  # what a write must still fit for a failure not to be blamed on a full filesystem


@contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success fsync it and rename it into place.

    A full filesystem or quota (``ENOSPC``/``EDQUOT``) raises :class:`StorageError`; so does a
    ``RuntimeError`` from the writer (torch's ``unexpected pos``, ``iostream error``: torch keeps no errno)
    when a probe write beside it fails the same way or the filesystem has less than ``PROBE_BYTES`` free."""
    path = Path(path)
    tmp = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(prefix=TEMP_PREFIX + path.name + ".", dir=path.parent)
        os.close(fd)
        tmp = Path(tmp_name)
        yield tmp
        with open(tmp, "rb") as handle:
            os.fsync(handle.fileno())
        os.replace(tmp, path)
        _fsync_dir(path.parent)
    except OSError as exc:
        if exc.errno in FULL:
            raise full_error(path, exc.errno) from None
        raise
    except RuntimeError:
        cause = _full_now(tmp or path.parent)
        if cause is not None:
            raise full_error(path, cause) from None
        raise
    finally:
        if tmp is not None and tmp.exists():
            tmp.unlink()


def _full_now(beside: Path) -> int | None:
    """ENOSPC or EDQUOT when the filesystem of ``beside`` (the failed temporary file, whose bytes still take
    their space) cannot take ``PROBE_BYTES`` more, else None."""
    try:
        if shutil.disk_usage(beside.parent).free < PROBE_BYTES:
            return errno.ENOSPC
        fd = os.open(beside, os.O_WRONLY | os.O_APPEND) if beside.is_file() else None
    except OSError:
        return None
    if fd is None:
        return None
    try:
        os.write(fd, bytes(PROBE_BYTES))
        os.fsync(fd)
    except OSError as exc:
        return exc.errno if exc.errno in FULL else None
    finally:
        os.close(fd)
    return None


def full_error(path: Path, code: int) -> StorageError:
    """``<file>: no space left on device (filesystem /work, ext4: 12 KiB free of 100 GiB); ...``"""
    directory = next((p for p in (path, *path.parents) if p.is_dir()), Path("/"))
    mount = directory.resolve()
    while not os.path.ismount(mount):
        mount = mount.parent
    try:
        usage = shutil.disk_usage(directory)
        space = f": {_size(usage.free)} free of {_size(usage.total)}"
    except OSError:
        space = ""
    quota = "; your quota on it is used up" if code == errno.EDQUOT else ""
    return StorageError(
        f"{path}: {FULL[code]} (filesystem {mount}{_fs_type(mount)}{space}{quota}); free space "
        f"or point results at another filesystem, then rerun: finished runs are kept"
    )


def _fs_type(mount: Path) -> str:
    try:
        with open("/proc/mounts", encoding="utf-8") as handle:
            types = {fields[1]: fields[2] for fields in map(str.split, handle) if len(fields) > 2}
    except OSError:
        return ""
    return f", {types[str(mount)]}" if str(mount) in types else ""


def _size(n: int) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024:
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} TiB"


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
