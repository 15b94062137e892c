"""Progress lines from long loops, at most every few seconds of work, so no job is silent for long.

A job opens a :class:`Progress` for its label and log (:func:`reporting`); loops deep inside pruning
methods and curvature code call :func:`tick` without being handed anything, and stay silent outside a job
(tests, notebooks). The reporter reads a monotonic clock, so a wall-clock jump never floods or mutes the
log, and tests drive it with a fake clock instead of waiting.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar

EVERY_SECONDS = 10.0

Message = str | Callable[[], str]  # a callable is only formatted when a line is due (no per-step cost)


class Progress:
    """Logs ``[label] message (N s)`` when ``every`` seconds of ``clock`` passed since the last line."""

    def __init__(
        self,
        label: str,
        log: Callable[[str], None],
        every: float = EVERY_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.label, self.log, self.every, self.clock = label, log, float(every), clock
        self.started = self.last = clock()

    def tick(self, message: Message) -> None:
        now = self.clock()
        if now - self.last >= self.every:
            text = message() if callable(message) else message
            self.log(f"[{self.label}] {text} ({now - self.started:.0f} s)")
            self.last = now

    def logged(self) -> None:
        """Another line was just written (an epoch summary): the next progress line is due ``every`` later."""
        self.last = self.clock()


_ACTIVE: ContextVar[Progress | None] = ContextVar("prunelab_progress", default=None)


@contextmanager
def reporting(progress: Progress) -> Iterator[Progress]:
    """Make ``progress`` the reporter that :func:`tick` calls reach, for the duration of a job step."""
    token = _ACTIVE.set(progress)
    try:
        yield progress
    finally:
        _ACTIVE.reset(token)


def tick(message: Message) -> None:
    """One step of a long loop: log ``message`` if the active reporter is due (no-op outside a job)."""
    progress = _ACTIVE.get()
    if progress is not None:
        progress.tick(message)
