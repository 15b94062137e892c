"""The fixed cost of one workflow job: a fresh ``python -m prunelab`` process vs a child of the job worker.

The job is the tiny suite's magnitude pruning of its dense run (a real job with its parents' files to read and
provenance to write, whose own work is a fraction of a second). Its *in-job time* is the same command run
by :func:`prunelab.cli.commands.main` inside this process once everything is imported; the *fixed cost* of a way to
launch it is that way's wall time (a subprocess, as Snakemake's shell starts it) minus the in-job time.
Candidates are interleaved over repeats and the fastest repeat of each is kept. Prints one line.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SOURCE = str(ROOT / "src")
sys.path.insert(0, SOURCE)

from prunelab.cli import commands as cli  # noqa: E402
from prunelab.cli import handoff as job_client  # noqa: E402
from prunelab.config.validation import load_config  # noqa: E402
from prunelab.plan.build import build_plan  # noqa: E402
from prunelab.records.hashing import canonical_json  # noqa: E402


def job_argv(plan, run_hash: str) -> tuple[list[str], Path]:
    """The command line the workflow's rule gives this run (one thread), and the run's directory."""
    spec, directory = plan.specs[run_hash], Path(plan.directory(run_hash))
    command = {"dense": "train", "prune": "prune", "branch": "branch"}[spec["kind"]]
    return [command, "--spec", canonical_json(spec), "--run-dir", str(directory), "--threads", "1"], directory


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="job-overhead-"))
    os.chdir(work)
    os.environ.update({"PRUNELAB_RESULTS": str(work / "results"), "PRUNELAB_DEVICE": "cpu", "PYTHONPATH": SOURCE})
    os.environ.pop(job_client.SOCKET_ENV, None)
    plan = build_plan(load_config(ROOT / "tests" / "configs" / "tiny.yaml"))
    dense_argv, _ = job_argv(plan, plan.hashes("dense")[0])
    assert cli.main(dense_argv) == 0
    argv, directory = job_argv(plan, next(h for h in plan.hashes("prune") if plan.specs[h]["method"] == "magnitude"))
    worker = job_client.start(SOURCE)
    fresh_env = {**os.environ, job_client.DISABLE_ENV: "0"}
    fresh_env.pop(job_client.SOCKET_ENV)

    def in_process():
        with open(os.devnull, "w") as sink, contextlib.redirect_stdout(sink), contextlib.redirect_stderr(sink):
            assert cli.main(argv) == 0

    def subprocess_with(env):
        def run():
            subprocess.run(
                [sys.executable, "-m", "prunelab", *argv],
                env=env,
                check=True,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )

        return run

    candidates = {
        "in-job": in_process,
        "fresh": subprocess_with(fresh_env),
        "worker": subprocess_with(dict(os.environ)),
    }
    best = {name: float("inf") for name in candidates}
    try:
        for repeat in range(args.repeats + 1):  # the first round warms up (and waits for the worker's imports)
            for name, run in candidates.items():
                shutil.rmtree(directory, ignore_errors=True)
                start = time.perf_counter()
                run()
                if repeat:
                    best[name] = min(best[name], time.perf_counter() - start)
        record = json.loads((directory / "provenance.json").read_text())
        assert record["host"]["job_worker"], "the last run was not served by the worker"
    finally:
        worker.stop()
        os.chdir(ROOT)
        shutil.rmtree(work)
    fresh, forked = best["fresh"] - best["in-job"], best["worker"] - best["in-job"]
    print(
        f"job_overhead [{os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}] prune job: in-job "
        f"{best['in-job']:.2f}s; fixed cost per job: fresh process {fresh:.2f}s, worker child {forked:.2f}s, "
        f"fresh/worker {fresh / forked:.1f}x"
    )


if __name__ == "__main__":
    main()
