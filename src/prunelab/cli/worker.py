"""The job worker: prunelab's heavy imports paid once, one forked child per ``python -m prunelab`` job.

Started by the workflow (:func:`prunelab.cli.handoff.start`) on the driver's host for local CPU jobs. It is
single-threaded and does no torch computation before forking: OpenMP and BLAS thread pools do not survive
``fork``, and a child must begin from the state a fresh ``python -m prunelab`` has after its imports.

Each child
* joins a process group of its own (the worker kills the group when the job's client goes away) and dies
  with the worker (``PR_SET_PDEATHSIG``), so no job outlives its driver;
* takes the client's stdin/stdout/stderr, working directory and environment, and applies the environment's
  thread count as a fresh process would at torch's import;
* runs :func:`prunelab.cli.commands.main`, whose job code sets determinism and threads from its runtime as always, and
  computes its provenance (git commit, dirty flag, environment) itself, after the fork.

A request is refused, and the client runs the job in-process instead, when the worker's code would not be the
code the job asks for: a different interpreter or ``PYTHONPATH``, or any source file of the package changed
(added, removed, or a different size or modification time) since the worker imported it.
"""

from __future__ import annotations

import argparse
import ctypes
import json
import os
import selectors
import signal
import socket
import struct
import sys
import traceback
from pathlib import Path

import torch  # noqa: E402

# what `python -m prunelab <cmd>` may import for any subcommand; imported here once, before any fork
import prunelab.analysis.aggregate  # noqa: E402,F401
import prunelab.analysis.figures  # noqa: E402,F401
import prunelab.cli.commands  # noqa: E402
import prunelab.jobs.grouped_run  # noqa: E402,F401
import prunelab.jobs.kinds  # noqa: E402,F401
import prunelab.records.audit  # noqa: E402,F401
from prunelab.cli.handoff import HEADER
from prunelab.records.provenance import WORKER_PID_ENV

PR_SET_PDEATHSIG = 1
PACKAGE = Path(prunelab.__file__).resolve().parent
_FORWARDED_THREADS = "OMP_NUM_THREADS"


def source_fingerprint() -> list:
    """(path, size, mtime) of every file of the package: what the imported code was read from."""
    return sorted(
        (str(p.relative_to(PACKAGE)), st.st_size, st.st_mtime_ns) for p in PACKAGE.rglob("*.py") for st in [p.stat()]
    )


class Worker:
    def __init__(self, listener: socket.socket, parent: int, source: str):
        self.listener = listener
        self.source = source
        self.fingerprint = source_fingerprint()
        self.selector = selectors.DefaultSelector()
        self.selector.register(listener, selectors.EVENT_READ, ("accept", None))
        self.parent_fd = os.pidfd_open(parent)
        self.selector.register(self.parent_fd, selectors.EVENT_READ, ("parent", None))
        self.jobs: dict[int, tuple[socket.socket, int]] = {}  # child pid -> (client connection, pidfd)

    def serve(self) -> None:
        while True:
            for key, _ in self.selector.select():
                what, data = key.data
                if what == "parent":
                    return
                if what == "accept":
                    conn, _ = self.listener.accept()
                    self._start(conn)
                elif what == "client":  # the client wrote or closed before its job ended: it is gone
                    self.selector.unregister(key.fileobj)
                    if data in self.jobs:
                        _kill_group(data)
                elif what == "exited":
                    self._finish(data)

    def _start(self, conn: socket.socket) -> None:
        try:
            conn.settimeout(30)
            header, fds, _, _ = socket.recv_fds(conn, HEADER.size, 3)
            request = json.loads(_read_exactly(conn, HEADER.unpack(header)[0]))
            conn.settimeout(None)
        except (OSError, ValueError, struct.error):
            conn.close()
            return
        refusal = self._refusal(request, fds)
        if refusal:
            _reply(conn, {"refused": refusal})
            for fd in fds:
                os.close(fd)
            conn.close()
            return
        sys.stdout.flush()
        sys.stderr.flush()
        pid = os.fork()
        if pid == 0:
            self._child(request, fds, conn)
        try:
            os.setpgid(pid, pid)  # also here, so that a kill right after the fork already reaches the group
        except OSError:
            pass
        for fd in fds:
            os.close(fd)
        pidfd = os.pidfd_open(pid)
        self.jobs[pid] = (conn, pidfd)
        self.selector.register(conn, selectors.EVENT_READ, ("client", pid))
        self.selector.register(pidfd, selectors.EVENT_READ, ("exited", pid))
        _reply(conn, {"started": pid})

    def _refusal(self, request: dict, fds: list[int]) -> str | None:
        if len(fds) != 3:
            return "expected the job's stdin, stdout and stderr"
        if _interpreter(request.get("executable", "")) != _interpreter(sys.executable):
            return f"another interpreter ({request.get('executable')}, worker: {sys.executable})"
        if request["env"].get("PYTHONPATH") != self.source:
            return f"another source tree (PYTHONPATH {request['env'].get('PYTHONPATH')}, worker: {self.source})"
        if source_fingerprint() != self.fingerprint:
            return f"the source under {PACKAGE} changed since the worker imported it"
        return None

    def _finish(self, pid: int) -> None:
        conn, pidfd = self.jobs.pop(pid)
        _, status = os.waitpid(pid, 0)
        self.selector.unregister(pidfd)
        os.close(pidfd)
        if conn.fileno() >= 0 and conn.fileno() in self.selector.get_map():
            self.selector.unregister(conn)
        code = os.waitstatus_to_exitcode(status)
        _reply(conn, {"exit": code if code >= 0 else 128 - code})
        conn.close()

    def _child(self, request: dict, fds: list[int], conn: socket.socket) -> None:
        status = 1
        try:
            os.setpgid(0, 0)
            ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
            for sig in (signal.SIGINT, signal.SIGTERM):
                signal.signal(sig, signal.default_int_handler if sig == signal.SIGINT else signal.SIG_DFL)
            self.selector.close()
            for closing in (self.listener, conn, *(c for c, _ in self.jobs.values())):
                closing.close()
            for fd in (self.parent_fd, *(p for _, p in self.jobs.values())):
                os.close(fd)
            for target, fd in enumerate(fds):
                os.dup2(fd, target)
                os.close(fd)
            os.chdir(request["cwd"])
            os.environ.clear()
            os.environ.update(request["env"])
            os.environ[WORKER_PID_ENV] = str(os.getppid())
            if os.environ.get(_FORWARDED_THREADS, "").isdigit() and int(os.environ[_FORWARDED_THREADS]) > 0:
                torch.set_num_threads(int(os.environ[_FORWARDED_THREADS]))
            sys.argv = [str(PACKAGE / "__main__.py"), *request["argv"]]
            status = prunelab.cli.commands.main(request["argv"])
        except SystemExit as exc:
            status = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
            if not isinstance(exc.code, (int, type(None))):
                print(exc.code, file=sys.stderr)
        except BaseException:  # noqa: BLE001 - a job's crash is reported in its log like an uncaught one
            traceback.print_exc()
            status = 1
        finally:
            try:
                sys.stdout.flush()
                sys.stderr.flush()
            finally:
                os._exit(status)

    def shutdown(self) -> None:
        for pid in list(self.jobs):
            _kill_group(pid)
            os.waitpid(pid, 0)


def _interpreter(executable: str) -> tuple[str, str]:
    """Which Python an executable path runs: its environment's bin directory and the binary behind it. A venv's
    ``python`` and ``python3`` are one interpreter (the driver may be started through either, while jobs run
    ``python``); another venv over the same base binary is not (its site-packages differ)."""
    return os.path.dirname(os.path.abspath(executable)), os.path.realpath(executable)


def _kill_group(pid: int) -> None:
    """SIGKILL the job's process group (the child and anything it started); it may have exited already."""
    try:
        os.killpg(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def _read_exactly(conn: socket.socket, size: int) -> bytes:
    chunks, left = [], size
    while left:
        chunk = conn.recv(min(left, 1 << 20))
        if not chunk:
            raise OSError("client closed mid-request")
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def _reply(conn: socket.socket, message: dict) -> None:
    try:
        conn.sendall((json.dumps(message) + "\n").encode())
    except OSError:
        pass  # the client is gone; its job is killed or already over


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m prunelab.cli.worker", description=__doc__.splitlines()[0])
    parser.add_argument("--listen-fd", type=int, required=True, help="a bound, listening Unix socket")
    parser.add_argument("--parent", type=int, required=True, help="exit when this process (the driver) exits")
    parser.add_argument("--source", required=True, help="the PYTHONPATH jobs must have to be served")
    args = parser.parse_args(argv)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    worker = Worker(socket.socket(fileno=args.listen_fd), args.parent, args.source)
    try:
        worker.serve()
    finally:
        worker.shutdown()


if __name__ == "__main__":
    main()
