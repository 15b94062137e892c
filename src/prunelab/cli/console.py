"""What a local Snakemake run prints: a screen per job rather than its every file, and one line for Ctrl-C.

Snakemake lists every input of a job, and again in its reason ("Input files updated by another job: ..."):
for the audit, which checks every output of every run, that is two lines of ~78,000 characters in the demo,
and the aggregate jobs print tens of thousands more. :class:`ShortFileLists`, a filter on Snakemake's logger,
keeps the first few names of a long list and counts the rest. It also drops the ``message: None`` line
Snakemake prints for a rule without a message, and, once the run is interrupted, the error reports of the
jobs Ctrl-C stopped (each with the ``KeyboardInterrupt`` traceback of its log): :func:`interrupted_line`
says instead, once, what happened and that running the command again resumes.
"""

from __future__ import annotations

import logging
import signal
import threading

MAX_FILES, SHOWN = 8, 3  # a longer file list shows its first SHOWN names and counts the rest
JOB_INFO, JOB_ERROR = "job_info", "job_error"  # the values of Snakemake's LogEvent members
_interrupted: list[bool] = []


class ShortFileLists(logging.Filter):
    """Cut the file lists of Snakemake's job records (see the module docstring); never drops other records."""

    def filter(self, record: logging.LogRecord) -> bool:
        event = getattr(record, "event", None)  # Snakemake's LogEvent, a StrEnum
        if _interrupted and (event == JOB_ERROR or "CalledProcessError" in str(record.msg)):
            return False  # a job stopped by Ctrl-C is no error: interrupted_line() reports the run
        if event not in (JOB_INFO, JOB_ERROR):
            return True
        for key in ("input", "output"):
            files = getattr(record, key, None)
            if isinstance(files, list):
                setattr(record, key, short_list(files))
        if isinstance(getattr(record, "reason", None), str):
            record.reason = short_reason(record.reason)
        if event == JOB_ERROR and getattr(record, "rule_msg", None) is None:
            record.msg = ""  # Snakemake prints "message: None" whenever the record has any text
        return True


def short_list(files: list[str]) -> list[str]:
    if len(files) <= MAX_FILES:
        return files
    return [*files[:SHOWN], f"... {len(files) - SHOWN} more"]


def short_reason(reason: str) -> str:
    """Each ``What: file, file, ...`` clause of a job's reason with its list cut like :func:`short_list`."""
    clauses = []
    for clause in reason.split("; "):
        what, sep, files = clause.partition(": ")
        clauses.append(what + sep + ", ".join(short_list(files.split(", "))) if sep else clause)
    return "; ".join(clauses)


def install(logger: logging.Logger) -> None:
    """Filter ``logger``'s records and note a Ctrl-C (SIGINT) before Snakemake handles it as before."""
    if not any(isinstance(f, ShortFileLists) for f in logger.filters):
        logger.addFilter(ShortFileLists())
    if threading.current_thread() is not threading.main_thread():  # only there may handlers be set (API use)
        return
    previous = signal.getsignal(signal.SIGINT)

    def note(signum, frame):
        _interrupted.append(True)
        if callable(previous):
            return previous(signum, frame)
        raise KeyboardInterrupt

    signal.signal(signal.SIGINT, note)


def interrupted() -> bool:
    return bool(_interrupted)


def interrupted_line() -> str:
    return (
        "prunelab: the run was interrupted (Ctrl-C); the jobs it stopped left no outputs. Run the same command "
        "again to resume: finished runs are kept and interrupted training continues from its last checkpoint"
    )
