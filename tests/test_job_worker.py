"""The job worker: jobs forked from it give the outputs of fresh processes bit for bit, a crash stays in its
own job, a source change is refused, and neither Ctrl-C nor a killed driver leaves a process behind."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from conftest import BIN, ROOT, snakemake

from prunelab.cli import handoff as job_client
from prunelab.cli.console import interrupted_line
from prunelab.config.validation import load_config
from prunelab.plan.build import build_plan
from prunelab.records.hashing import spec_hash

SOURCE = str(ROOT / "src")
TINY = ROOT / "tests" / "configs" / "tiny.yaml"


def dense_spec() -> dict:
    """The tiny suite's dense run, cut to one epoch."""
    plan = build_plan(load_config(TINY))
    spec = plan.specs[plan.hashes("dense")[0]]
    return {**spec, "train": {**spec["train"], "epochs": 1}}


SPEC = dense_spec()


def small_config(workdir: Path, epochs: int = 2) -> Path:
    """The tiny suite cut to one method, one sparsity and its branch: every job kind, few jobs."""
    config = yaml.safe_load(TINY.read_text())
    config["dense"]["lenet"]["train"]["epochs"] = epochs
    config["pruning"] = {"magnitude": config["pruning"]["magnitude"]}
    config["experiments"]["oneshot"].update(pruning=["magnitude"], sparsities=[0.5])
    path = workdir / "config.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def run_records(results: Path) -> dict:
    return {p.parent.name: json.loads(p.read_text()) for p in results.glob("runs/*/*/provenance.json")}


@pytest.mark.e2e
def test_forked_jobs_match_fresh_processes_bit_for_bit(tmp_path, monkeypatch):
    """The same config with the worker and without: same run hashes, same output bytes, same metrics."""
    records = {}
    for way in ("fresh", "worker"):
        workdir = tmp_path / way
        workdir.mkdir()
        monkeypatch.setenv(job_client.DISABLE_ENV, "0" if way == "fresh" else "1")
        snakemake(workdir, "--configfile", str(small_config(workdir)), "--cores", "2")
        records[way] = run_records(workdir / "results")
        assert {bool(r["host"]["job_worker"]) for r in records[way].values()} == {way == "worker"}
    assert sorted(records["fresh"]) == sorted(records["worker"]) and len(records["fresh"]) == 3
    for run_hash, fresh in records["fresh"].items():
        forked = records["worker"][run_hash]
        assert forked["outputs"] == fresh["outputs"]  # sha256 of every file, metrics.json included
        assert forked["environment"] == fresh["environment"]  # threads and determinism as in a fresh process
        assert forked["code"] == fresh["code"]
    assert (tmp_path / "fresh/results/tables/tiny/oneshot.csv").read_bytes() == (
        tmp_path / "worker/results/tables/tiny/oneshot.csv"
    ).read_bytes()


@pytest.fixture
def worker(monkeypatch):
    monkeypatch.setenv("PRUNELAB_DEVICE", "cpu")
    monkeypatch.delenv("SLURM_JOB_ID", raising=False)
    handle = job_client.start(SOURCE)
    yield handle
    handle.stop()


def job(workdir: Path, name: str) -> subprocess.Popen:
    """``python -m prunelab train`` of the tiny dense spec under ``workdir/name``, logging to ``name.log``."""
    log = open(workdir / f"{name}.log", "w")
    with log:
        return subprocess.Popen(
            [
                sys.executable,
                "-m",
                "prunelab",
                "train",
                "--spec",
                json.dumps(SPEC),
                "--run-dir",
                str(workdir / name / spec_hash(SPEC)),
                "--threads",
                "1",
            ],
            cwd=workdir,
            stdout=log,
            stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONPATH": SOURCE},
        )


def provenance(workdir: Path, name: str) -> dict:
    return json.loads((workdir / name / spec_hash(SPEC) / "provenance.json").read_text())


def children(pid: int) -> list[int]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(p) for p in path.read_text().split()] if path.exists() else []


def wait_for(condition, what: str, limit: float = 120):
    """Poll until ``condition()`` is truthy (a bound on hanging, not a timing assertion)."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"gave up waiting for {what}")


def test_a_crashing_job_fails_alone(worker, tmp_path):
    crashing, healthy = job(tmp_path, "crashing"), job(tmp_path, "healthy")
    jobs = wait_for(
        lambda: len(children(worker.process.pid)) == 2 and children(worker.process.pid), "both jobs to be forked"
    )
    os.kill(jobs[0], signal.SIGSEGV)  # whichever it is, one job dies the hardest way
    codes = sorted([crashing.wait(), healthy.wait()])
    assert codes == [0, 128 + signal.SIGSEGV]
    survivor = "crashing" if crashing.returncode == 0 else "healthy"
    record = provenance(tmp_path, survivor)
    assert record["host"]["job_worker"] == str(worker.process.pid)
    again = job(tmp_path, "after")  # the worker still serves
    assert again.wait() == 0
    assert provenance(tmp_path, "after")["host"]["job_worker"]


def test_a_changed_source_tree_is_refused_and_the_job_runs_in_process(worker, tmp_path, monkeypatch):
    stamped = ROOT / "src" / "prunelab" / "errors.py"
    before = stamped.stat()
    monkeypatch.setenv("PYTHONPATH", SOURCE)  # as the workflow's jobs have it (the worker serves only that tree)
    wait_for(lambda: job_client.delegate(["methods"]) == 0, "the worker to serve")
    os.utime(stamped, ns=(before.st_atime_ns, before.st_mtime_ns + 1_000_000))
    try:
        refused = job(tmp_path, "refused")
        assert refused.wait() == 0
    finally:
        os.utime(stamped, ns=(before.st_atime_ns, before.st_mtime_ns))
    record = provenance(tmp_path, "refused")
    assert record["host"]["job_worker"] is None


def test_cuda_slurm_and_distributed_jobs_bypass_the_worker(worker, monkeypatch):
    assert job_client.wants_cuda(["train", "--device", "cuda"], {"PRUNELAB_DEVICE": "cpu"})
    assert job_client.wants_cuda([], {"PRUNELAB_DEVICE": "cuda"})
    assert not job_client.wants_cuda(["train", "--device", "cpu"], {"PRUNELAB_DEVICE": "cuda"})
    assert job_client.wants_cuda([], {"PRUNELAB_DEVICE": "auto", "CUDA_VISIBLE_DEVICES": ""}) is False
    for variable in job_client.FRESH_PROCESS_ENV:
        monkeypatch.setenv(variable, "7")
        assert job_client.delegate(["methods"]) is None
        monkeypatch.delenv(variable)


def descendants(pid: int) -> set[int]:
    found, todo = set(), [pid]
    while todo:
        for child in children(todo.pop()):
            found.add(child)
            todo.append(child)
    return found


def alive(pids: set[int]) -> set[int]:
    """The pids still running (not zombies awaiting their reaper)."""
    running = set()
    for pid in pids:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if state != "Z":
            running.add(pid)
    return running


@pytest.mark.e2e
@pytest.mark.parametrize("stop", ["ctrl-c", "kill-driver"])
def test_stopping_the_driver_mid_run_leaves_no_process(tmp_path, stop):
    """... and, while it runs, a second run in its directory stops with one line naming it (not Snakemake's
    IncompleteFilesException on the first run's outputs); Ctrl-C ends in one line saying that rerunning
    resumes, without tracebacks or error reports of the stopped jobs; a killed driver leaves no lock."""
    config = small_config(
        tmp_path, epochs=400
    )  # dense jobs far too long to end before the stop, even on a loaded machine
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}
    env.pop(job_client.DISABLE_ENV, None)
    console = tmp_path.parent / f"{tmp_path.name}-console.log"
    with open(console, "w") as out:
        driver = subprocess.Popen(
            [
                str(BIN / "snakemake"),
                "--snakefile",
                str(ROOT / "Snakefile"),
                "--directory",
                str(tmp_path),
                "--configfile",
                str(config),
                "--cores",
                "2",
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,
        )
    dense_dir = tmp_path / "results" / "runs" / "dense"
    # running in the worker: the job's child has written its resume checkpoint or at least created the run dir
    wait_for(lambda: dense_dir.exists() and any(_forked_jobs(driver.pid)), "the dense job to run in the worker")
    everyone = descendants(driver.pid)
    second = snakemake(tmp_path, "--configfile", str(config), "--cores", "1", check=False)
    said = second.stdout + second.stderr
    assert second.returncode != 0 and f"another Snakemake run holds {tmp_path} (pid {driver.pid}, started " in said
    assert "rerun-incomplete" not in said and "IncompleteFilesException" not in said
    if stop == "ctrl-c":
        os.killpg(driver.pid, signal.SIGINT)  # what a terminal does: the whole foreground group
        driver.wait(timeout=120)
    else:
        driver.kill()
        driver.wait()
    wait_for(lambda: not alive(everyone), f"every process of the run to end after {stop} (left: {alive(everyone)})")
    if stop == "ctrl-c":  # Snakemake removed the interrupted job's outputs
        assert not list(dense_dir.glob("*/metrics.json")) and not list(dense_dir.glob("*/provenance.json"))
        text = console.read_text()
        assert text.count(interrupted_line()) == 1, text[-3000:]
        for noise in ("KeyboardInterrupt", "Traceback", "message: None", "Error in rule", "CalledProcessError"):
            assert noise not in text, (noise, text[-3000:])
        job_log = next(dense_dir.glob("*/logs/train.log")).read_text()
        assert job_log.strip().splitlines()[-1].startswith("prunelab: interrupted (Ctrl-C); run it again to resume")
    else:  # the kernel dropped the dead driver's lock: the next run is not refused
        again = snakemake(tmp_path, "--configfile", str(config), "-n", check=False)
        assert "another Snakemake run holds" not in again.stdout + again.stderr


def _forked_jobs(driver: int) -> list[int]:
    def is_worker(pid: int) -> bool:
        try:
            return b"prunelab.cli.worker" in Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            return False

    return [pid for worker in children(driver) if is_worker(worker) for pid in children(worker)]
