"""One Snakemake run per working directory: a second one stops at once with one line naming the first.

Snakemake's own lock (``.snakemake/locks``) is taken only after the DAG is built, and building it already
fails on the outputs the first run is writing (``IncompleteFilesException``, advising ``--rerun-incomplete``
on files that are not incomplete but in progress). The Snakefile therefore takes this lock while it is
parsed, before any of that: an exclusive ``flock`` on ``.snakemake/prunelab/run.lock``, held until the
process exits. The kernel drops it when its holder dies, however it dies, so a killed run never leaves it
behind. The file records who holds it (pid, start time, command) for the message. Dry runs take it too: the
Snakefile cannot tell them apart while it is parsed, and Snakemake would fail them the same way.
"""

from __future__ import annotations

import fcntl
import os
import sys
import time
from pathlib import Path

LOCK = Path(".snakemake") / "prunelab" / "run.lock"
_held: list[int] = []  # the descriptor of the lock this process holds: open until it exits


def hold(directory: str | Path = ".") -> str | None:
    """Take the run lock of ``directory`` for this process; None when taken (or already held), else the
    line saying which run holds it."""
    if _held:
        return None
    path = Path(directory) / LOCK
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = os.read(fd, 4096).decode("utf-8", "replace").strip()
        os.close(fd)
        return held_message(Path(directory), holder)
    os.ftruncate(fd, 0)
    os.write(
        fd,
        f"pid {os.getpid()}, started {time.strftime('%Y-%m-%d %H:%M:%S')}: "
        f"{' '.join(os.path.basename(a) if i == 0 else a for i, a in enumerate(sys.argv))}".encode(),
    )
    _held.append(fd)
    return None


def held_message(directory: Path, holder: str) -> str:
    return (
        f"another Snakemake run holds {directory.resolve()} ({holder or 'pid unknown'}); wait for it to "
        f"finish or stop it, then run this command again (finished runs are kept; `prunelab plan <config>` "
        f"shows which runs are done meanwhile)"
    )
