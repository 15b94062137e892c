"""The light side of the job worker: hand a ``python -m prunelab`` command to it, or start and stop it.

Every job of a local run is a fresh ``python -m prunelab <cmd>`` process, and importing torch costs it more
than a small job's own work. :mod:`prunelab.cli.worker` pays the imports once and forks one child per job;
this module is what each job process runs first, so it imports nothing heavy (no torch, no numpy, nothing of
prunelab beyond this file), and every way it can fail to be served ends in ``None``: the caller then runs
the command in-process, exactly as without a worker.

The request carries the job's argv, working directory, environment and its stdin/stdout/stderr descriptors
(SCM_RIGHTS), so the forked child writes straight into the job's log. The connection stays open while the
job runs: if this process dies (Ctrl-C, a killed driver), the worker sees the connection close and kills
the job's process group.
"""

from __future__ import annotations

import json
import os
import socket
import struct
import subprocess
import sys
import tempfile

SOCKET_ENV = "PRUNELAB_WORKER_SOCKET"
DISABLE_ENV = "PRUNELAB_WORKER"  # "0": never start or use a worker
HEADER = struct.Struct("!I")  # byte length of the JSON request that follows
# Variables under which a job must run in a fresh process of its own: a SLURM allocation (the worker is a
# local process of the driver's host) or a torchrun/torch.distributed launch (one rank per process).
FRESH_PROCESS_ENV = ("SLURM_JOB_ID", "RANK", "LOCAL_RANK", "WORLD_SIZE")
_THREAD_ENV = (
    "OMP_NUM_THREADS",
    "MKL_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "GOTO_NUM_THREADS",
    "VECLIB_MAXIMUM_THREADS",
    "NUMEXPR_NUM_THREADS",
)


def wants_cuda(argv: list[str], environ: dict) -> bool:
    """Whether the job may compute on a GPU: CUDA and fork do not mix, so such jobs always run fresh."""
    device = environ.get("PRUNELAB_DEVICE", "auto")
    for i, arg in enumerate(argv):
        if arg == "--device" and i + 1 < len(argv):
            device = argv[i + 1]
        elif arg.startswith("--device="):
            device = arg.split("=", 1)[1]
    if device == "auto":  # torch would pick CUDA when a device is visible: judged without importing torch
        return _nvidia_device_visible(environ)
    return device != "cpu"


def _nvidia_device_visible(environ: dict) -> bool:
    if environ.get("CUDA_VISIBLE_DEVICES", "unset").strip() in ("", "-1"):
        return False
    return os.path.exists("/proc/driver/nvidia/version") or any(
        name.startswith("nvidia") and name[6:].isdigit() for name in os.listdir("/dev")
    )


def delegate(argv: list[str]) -> int | None:
    """Run ``prunelab argv`` in the worker and return its exit status; None when no worker serves it."""
    path = os.environ.get(SOCKET_ENV)
    if (
        not path
        or os.environ.get(DISABLE_ENV) == "0"
        or any(os.environ.get(v) for v in FRESH_PROCESS_ENV)
        or wants_cuda(argv, os.environ)
    ):
        return None
    try:
        conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        conn.connect(path)
    except OSError:
        return None
    with conn:
        request = json.dumps(
            {"argv": argv, "cwd": os.getcwd(), "env": dict(os.environ), "executable": sys.executable}
        ).encode()
        try:
            socket.send_fds(conn, [HEADER.pack(len(request))], [0, 1, 2])
            conn.sendall(request)
            replies = conn.makefile("r", encoding="utf-8")
            first = json.loads(replies.readline() or "{}")
            if "started" not in first:
                return None  # refused (e.g. the source tree changed since it started): run in-process
            last = replies.readline()
        except (OSError, ValueError):
            return None if "first" not in locals() else _lost()
    if not last:
        return _lost()
    return int(json.loads(last)["exit"])


INTERRUPTED = 128 + 2  # the status a shell reports for a process stopped by SIGINT


def interrupted() -> int:
    """A job stopped by Ctrl-C: one line in its log instead of a ``KeyboardInterrupt`` traceback."""
    print(
        "prunelab: interrupted (Ctrl-C); run it again to resume (training continues from its last checkpoint)",
        file=sys.stderr,
    )
    return INTERRUPTED


def _lost() -> int:
    print("prunelab: the job worker stopped while running this job; its outcome is unknown", file=sys.stderr)
    return 1


class WorkerHandle:
    """A started worker process and its socket directory, as the workflow's handlers see it."""

    def __init__(self, process: subprocess.Popen, directory: str):
        self.process = process
        self.directory = directory

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        for name in os.listdir(self.directory):
            os.unlink(os.path.join(self.directory, name))
        os.rmdir(self.directory)


def start(source: str) -> WorkerHandle | None:
    """Start a worker for the jobs of this process (the Snakemake driver) and point them at it.

    The socket is bound and listening before this returns, so jobs started from now on queue on it while the
    worker is still importing. The worker watches this process and exits with it. Its environment has no
    thread-count variables, so each child starts from torch's defaults, as a fresh process would, and then
    applies its own job's variables.
    """
    if os.environ.get(DISABLE_ENV) == "0" or wants_cuda([], os.environ):
        return None
    directory = tempfile.mkdtemp(prefix="prunelab-worker-")
    path = os.path.join(directory, "socket")
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(path)
    listener.listen(256)
    env = {k: v for k, v in os.environ.items() if k not in _THREAD_ENV}
    env["PYTHONPATH"] = source
    log = open(os.path.join(directory, "worker.log"), "ab")
    with listener, log:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "prunelab.cli.worker",
                "--listen-fd",
                str(listener.fileno()),
                "--parent",
                str(os.getpid()),
                "--source",
                source,
            ],
            pass_fds=[listener.fileno()],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=log,
            env=env,
            start_new_session=True,
        )  # a terminal's Ctrl-C reaches the jobs' clients, never the worker
    os.environ[SOCKET_ENV] = path
    return WorkerHandle(process, directory)
