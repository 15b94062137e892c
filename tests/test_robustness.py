"""Nothing lost, nothing half-written: SIGKILL + resume is bit-exact, a kill mid-write leaves no accepted
output, corrupt files, a full disk and NaN losses stop with one clear line, and runs are deterministic."""

import errno
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from conftest import ROOT

from prunelab.config.validation import validate_config
from prunelab.plan.build import build_plan
from prunelab.records.hashing import spec_hash

CONFIG = {
    "dense": {
        "lenet": {
            "dataset": {"name": "digits", "size": 28, "channels": 1, "validation": 100},
            "model": {"name": "lenet_300_100"},
            "train": {"epochs": 12, "batch_size": 32, "lr": 0.05, "schedule": {"name": "cosine"}},
            "seeds": [5],
        }
    },
    "pruning": {"magnitude": {"method": "magnitude"}},
    "branches": {"finetune": {"type": "finetune", "train": {"epochs": 1, "lr": 0.01}}},
    "experiments": {"e": {"dense": ["lenet"], "pruning": ["magnitude"], "sparsities": [0.9], "branches": ["finetune"]}},
}


def specs(edit=None):
    config = json.loads(json.dumps(CONFIG))
    if edit:
        edit(config)
    plan = build_plan(validate_config(config))
    return {s["kind"]: (h, s) for h, s in plan.specs.items()}


def job(kind, spec, results, *extra, env=None, popen=False):
    command = {"dense": "train"}.get(kind, kind)
    run_dir = Path(results) / "runs" / kind / spec_hash(spec)
    args = [
        sys.executable,
        "-m",
        "prunelab",
        command,
        "--spec",
        json.dumps(spec),
        "--run-dir",
        str(run_dir),
        "--results",
        str(results),
        "--threads",
        "1",
        "--device",
        "cpu",
        *extra,
    ]
    full_env = {**os.environ, "PYTHONPATH": str(ROOT / "src"), **(env or {})}
    if popen:
        return subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=full_env), run_dir
    return subprocess.run(args, capture_output=True, text=True, env=full_env), run_dir


def same(x, y) -> bool:
    """Bitwise equality of nested dicts/lists of tensors and plain values."""
    if isinstance(x, torch.Tensor):
        return isinstance(y, torch.Tensor) and torch.equal(x, y)
    if isinstance(x, dict):
        return isinstance(y, dict) and x.keys() == y.keys() and all(same(x[k], y[k]) for k in x)
    if isinstance(x, (list, tuple)):
        return isinstance(y, (list, tuple)) and len(x) == len(y) and all(same(a, b) for a, b in zip(x, y))
    return x == y


def tensors_equal(a: Path, b: Path) -> bool:
    return same(torch.load(a, weights_only=True), torch.load(b, weights_only=True))


def test_sigkill_at_random_points_then_resume_is_bit_identical(tmp_path):
    _, dense = specs()["dense"]
    ref, ref_dir = job("dense", dense, tmp_path / "ref")
    assert ref.returncode == 0, ref.stderr
    kill_points, targets = [], [37, 120, 121, 260, 333]  # resume-checkpoint iterations after which we kill
    run_dir = None
    for target in targets:
        proc, run_dir = job("dense", dense, tmp_path / "killed", "--checkpoint-every", "7it", popen=True)
        state = run_dir / "train_state.pt"
        deadline = time.time() + 120
        while proc.poll() is None and time.time() < deadline:
            if state.exists():
                try:
                    iteration = torch.load(state, weights_only=True)["iteration"]
                except Exception:  # replaced while we read it: try again
                    iteration = -1
                if iteration >= target:
                    proc.send_signal(signal.SIGKILL)
                    proc.wait()
                    kill_points.append(iteration)
                    break
            time.sleep(0.01)
        if proc.poll() is None:
            proc.kill()
        assert not (run_dir / "provenance.json").exists() or proc.returncode == 0
    assert len(kill_points) >= 3, kill_points
    final, run_dir = job("dense", dense, tmp_path / "killed", "--checkpoint-every", "7it")
    assert final.returncode == 0, final.stderr
    assert "resumed from" in final.stderr
    assert tensors_equal(run_dir / "model.pt", ref_dir / "model.pt")
    assert tensors_equal(run_dir / "snapshots.pt", ref_dir / "snapshots.pt")
    ours, theirs = (
        json.loads((run_dir / "metrics.json").read_text()),
        json.loads((ref_dir / "metrics.json").read_text()),
    )
    assert ours["history"] == theirs["history"] and ours["final"] == theirs["final"]
    assert not (run_dir / "train_state.pt").exists()
    print("kill points (iterations):", kill_points)


KILL_ON_WRITE = """
import os, sys, prunelab.records.storage as storage
real = storage.os.replace
def dying_replace(src, dst):
    if str(dst).endswith(sys.argv[1]):
        os._exit(137)  # SIGKILL-like: no cleanup, no finally blocks
    real(src, dst)
storage.os.replace = dying_replace
from prunelab.cli.commands import main
sys.exit(main(sys.argv[2:]))
"""


def test_kill_during_an_output_write_leaves_no_accepted_output(tmp_path):
    _, dense = specs(lambda c: c["dense"]["lenet"]["train"].update(epochs=1))["dense"]
    run_dir = tmp_path / "runs" / "dense" / spec_hash(dense)
    args = [
        sys.executable,
        "-c",
        KILL_ON_WRITE,
        "metrics.json",
        "train",
        "--spec",
        json.dumps(dense),
        "--run-dir",
        str(run_dir),
        "--results",
        str(tmp_path),
        "--threads",
        "1",
    ]
    proc = subprocess.run(args, capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(ROOT / "src")})
    assert proc.returncode == 137
    assert not (run_dir / "provenance.json").exists() and not (run_dir / "metrics.json").exists()
    assert list(run_dir.glob(".tmp-metrics.json.*"))  # the half-written file kept its temporary name
    again, _ = job("dense", dense, tmp_path)
    assert again.returncode == 0, again.stderr
    assert (run_dir / "provenance.json").exists() and not list(run_dir.glob(".tmp-*"))


TORCH_SAVE_ERROR = "[enforce fail at inline_container.cc:672] . unexpected pos 896 vs 790"
FULL_DISK = f"""
import collections, sys, torch, prunelab.records.storage as storage
def save(obj, f, *args, **kwargs):  # what torch says when the disk fills under it: no errno, no file name
    raise RuntimeError("{TORCH_SAVE_ERROR}")
torch.save = save
usage = collections.namedtuple("usage", "total used free")
storage.shutil.disk_usage = lambda path: usage(10 << 30, 10 << 30, 0)
from prunelab.cli.commands import main
sys.exit(main(sys.argv[1:]))
"""
FULL_LINE = re.compile(
    r"prunelab: (\S+): (no space left on device|disk quota exceeded) \(filesystem /\S*(, \w+)?: "
    r"\d+(\.\d)? [KMGT]?i?B free of [\d.]+ [KMGT]?i?B(; your quota on it is used up)?\); free space "
    r"or point results at another filesystem, then rerun: finished runs are kept"
)


def test_full_disk_in_a_job_is_one_line_naming_the_file_and_its_filesystem(tmp_path):
    _, dense = specs(lambda c: c["dense"]["lenet"]["train"].update(epochs=1))["dense"]
    run_dir = tmp_path / "runs" / "dense" / spec_hash(dense)
    args = [
        sys.executable,
        "-c",
        FULL_DISK,
        "train",
        "--spec",
        json.dumps(dense),
        "--run-dir",
        str(run_dir),
        "--results",
        str(tmp_path),
        "--threads",
        "1",
        "--device",
        "cpu",
    ]
    proc = subprocess.run(args, capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(ROOT / "src")})
    assert proc.returncode == 2 and proc.stderr.count("prunelab:") == 1, proc.stderr  # the rest: progress lines
    line = FULL_LINE.fullmatch(proc.stderr.strip().splitlines()[-1])
    assert line and line[2] == "no space left on device" and " 0 B free of 10.0 GiB" in line[0], proc.stderr
    assert Path(line[1]).parent == run_dir and TORCH_SAVE_ERROR not in proc.stderr
    assert not (run_dir / "provenance.json").exists() and not list(run_dir.glob(".tmp-*"))


@pytest.mark.parametrize(
    "code,message", [(errno.ENOSPC, "no space left on device"), (errno.EDQUOT, "disk quota exceeded")]
)
def test_full_disk_or_quota_while_writing_is_one_line(tmp_path, monkeypatch, code, message):
    from prunelab.errors import StorageError
    from prunelab.records.storage import write_json

    def full(self, *args, **kwargs):
        raise OSError(code, os.strerror(code))

    monkeypatch.setattr(Path, "write_text", full)
    with pytest.raises(StorageError) as caught:
        write_json(tmp_path / "run" / "metrics.json", {"a": 1})
    line = FULL_LINE.fullmatch("prunelab: " + str(caught.value))
    assert line and line[1] == str(tmp_path / "run" / "metrics.json") and line[2] == message, caught.value
    assert list((tmp_path / "run").iterdir()) == []  # neither the file nor its temporary copy


def test_torch_save_error_is_blamed_on_the_disk_only_when_it_is_full(tmp_path, monkeypatch):
    from prunelab.errors import StorageError
    from prunelab.records.storage import save_tensors

    def save(obj, f, *args, **kwargs):
        Path(f).write_bytes(b"PK partial")
        raise RuntimeError(TORCH_SAVE_ERROR)

    monkeypatch.setattr(torch, "save", save)
    with pytest.raises(RuntimeError, match="unexpected pos"):  # room left: torch's own error, not a disk story
        save_tensors(tmp_path / "mask.pt", {"w": torch.ones(2)})
    real = shutil.disk_usage
    monkeypatch.setattr(shutil, "disk_usage", lambda path: real(path)._replace(free=100))
    with pytest.raises(StorageError, match=r"mask.pt: no space left on device \(filesystem .*: 100 B free of"):
        save_tensors(tmp_path / "mask.pt", {"w": torch.ones(2)})
    assert list(tmp_path.iterdir()) == []


def test_corrupt_resume_checkpoint_and_parent_files_are_one_line(tmp_path):
    runs = specs(lambda c: c["dense"]["lenet"]["train"].update(epochs=1))
    _, dense = runs["dense"]
    run_dir = tmp_path / "runs" / "dense" / spec_hash(dense)
    run_dir.mkdir(parents=True)
    (run_dir / "train_state.pt").write_bytes(b"PK\x03\x04 truncated")
    proc, _ = job("dense", dense, tmp_path)
    assert proc.returncode == 2
    assert proc.stderr.strip().count("\n") == 0 and "train_state.pt: corrupt or truncated" in proc.stderr
    (run_dir / "train_state.pt").unlink()
    assert job("dense", dense, tmp_path)[0].returncode == 0
    model = run_dir / "model.pt"
    model.write_bytes(model.read_bytes()[:1000])
    _, prune = runs["prune"]
    proc, prune_dir = job("prune", prune, tmp_path)
    assert proc.returncode == 2 and proc.stderr.strip().count("\n") == 0
    assert "model.pt: corrupt or truncated tensor file" in proc.stderr and "rule 'train'" in proc.stderr
    assert not prune_dir.exists() or not any(prune_dir.iterdir())


def test_nan_loss_stops_with_run_epoch_and_step_or_is_recorded(tmp_path):
    runs = specs(lambda c: c["dense"]["lenet"]["train"].update(lr=1.0e8, epochs=2, schedule={"name": "constant"}))
    dense_hash, dense = runs["dense"]
    proc, run_dir = job("dense", dense, tmp_path / "fail")
    assert proc.returncode == 2
    line = proc.stderr.strip().splitlines()[-1]
    assert line.startswith(f"prunelab: run {dense_hash}: loss is nan at epoch 1, iteration ")
    assert not (run_dir / "model.pt").exists() and not (run_dir / "provenance.json").exists()

    results = tmp_path / "record"
    proc, run_dir = job("dense", dense, results, "--on-divergence", "record")
    assert proc.returncode == 0, proc.stderr
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["status"] == "diverged" and metrics["final"]["iteration"] >= 1
    proc, prune_dir = job("prune", runs["prune"][1], results)
    assert proc.returncode == 0, proc.stderr
    assert json.loads((prune_dir / "metrics.json").read_text())["status"] == "skipped"
    proc, branch_dir = job("branch", runs["branch"][1], results)
    assert proc.returncode == 0, proc.stderr
    skipped = json.loads((branch_dir / "metrics.json").read_text())
    assert skipped["status"] == "skipped" and f"dense/{dense_hash} is diverged" in skipped["error"]


def test_same_spec_twice_gives_bit_identical_weights_and_metrics(tmp_path):
    from prunelab.jobs.kinds import run_branch, run_dense, run_prune
    from prunelab.jobs.runtime import Runtime

    runs = specs(lambda c: c["dense"]["lenet"]["train"].update(epochs=2))
    runners = {"dense": run_dense, "prune": run_prune, "branch": run_branch}
    for root in ("a", "b"):
        rt = Runtime(results=tmp_path / root, device="cpu", threads=1)
        for kind, runner in runners.items():
            h, spec = runs[kind]
            runner(spec, tmp_path / root / "runs" / kind / h, rt, log=lambda m: None)
    for kind, files in (("dense", ["model.pt", "snapshots.pt"]), ("prune", ["mask.pt"]), ("branch", ["model.pt"])):
        h = runs[kind][0]
        a, b = tmp_path / "a" / "runs" / kind / h, tmp_path / "b" / "runs" / kind / h
        for f in files:
            assert tensors_equal(a / f, b / f), (kind, f)
        assert (a / "metrics.json").read_text() == (b / "metrics.json").read_text()
