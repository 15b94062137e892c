"""Data-parallel training (prunelab.training.distributed) on CPU: gloo, two ranks launched by torchrun.

Oracles: the two ranks' slices of every batch concatenate to the single-process batch (in memory and
streamed); two ranks end with the single-process run's weights within ``TOLERANCE`` (no BatchNorm: torch's
SyncBatchNorm is GPU-only, so a CPU test net without BatchNorm is the one that must match), the ranks agree
bit for bit, and pruned weights are exactly 0; a DDP run killed mid-epoch and resumed ends bit-identical to
the uninterrupted DDP run; ``prunelab train`` with ``--processes 2`` launches itself under torchrun, writes
its outputs once (rank 0) and matches the single-process job; on the local SLURM cluster
(scripts/local-slurm.sh) a 2-rank training job on a generated image folder runs through the SLURM profile.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import yaml
from conftest import BIN, ROOT
from image_folder import write_image_folder
from local_cluster import require_cluster

from prunelab.config.validation import validate_config
from prunelab.data.batches import EpochPlan, shard_bounds
from prunelab.data.tensors import load_dataset
from prunelab.errors import ConfigError
from prunelab.plan.build import build_plan
from prunelab.records.hashing import canonical_json
from prunelab.records.layout import run_dir
from prunelab.training.distributed import World

WORKER = Path(__file__).with_name("ddp_worker.py")
# measured: 1.9e-8 largest absolute weight difference after 28 SGD steps (weights of order 0.1-1)
TOLERANCE = 1e-6


def _env():
    return {**os.environ, "PRUNELAB_WORKER": "0", "OMP_NUM_THREADS": "1"}


def _torchrun(*args, cwd, check=True):
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2", str(WORKER), *args]
    return subprocess.run(command, cwd=cwd, env=_env(), capture_output=True, text=True, timeout=300, check=check)


def _weights(path):
    return torch.load(path, weights_only=True)


def test_shards_partition_every_batch_size():
    for n in range(1, 12):
        for world in (1, 2, 3):
            bounds = [shard_bounds(n, r, world) for r in range(world)]
            assert bounds[0][0] == 0 and bounds[-1][1] == n
            assert all(a[1] == b[0] for a, b in zip(bounds, bounds[1:]))
            assert max(hi - lo for lo, hi in bounds) - min(hi - lo for lo, hi in bounds) <= 1


def test_rank_slices_concatenate_to_the_global_batch():
    x, y = torch.randn(23, 1, 6, 6), torch.arange(23)
    plan = EpochPlan.make(23, 7, seed=3, epoch=1, augment={"crop_padding": 2, "flip": True})
    whole = list(plan.batches(x, y, start=1))
    parts = [list(plan.batches(x, y, start=1, shard=(r, 2))) for r in range(2)]
    assert [len(b) for _, b in whole] == [7, 7, 2]
    for (xb, yb), (x0, y0), (x1, y1) in zip(whole, *parts):
        assert torch.equal(torch.cat([x0, x1]), xb) and torch.equal(torch.cat([y0, y1]), yb)


def test_streamed_ranks_decode_only_their_slice(tmp_path):
    spec = {
        "name": "image_folder",
        "size": 16,
        "path": str(write_image_folder(tmp_path)),
        "augment": {"resized_crop": [0.25, 1.0], "flip": True},
    }
    data = load_dataset(spec)
    whole = list(data.epoch_batches(5, seed=3, epoch=1))
    parts = [list(data.epoch_batches(5, seed=3, epoch=1, shard=(r, 2))) for r in range(2)]
    assert [len(b) for _, b in whole] == [5] * 4 + [4]
    for (xb, yb), (x0, y0), (x1, y1) in zip(whole, *parts):
        assert (len(y0), len(y1)) == ((len(yb) + 1) // 2, len(yb) // 2)
        assert torch.equal(torch.cat([x0, x1]), xb) and torch.equal(torch.cat([y0, y1]), yb)


def test_a_batch_too_small_for_the_ranks_is_one_line():
    with pytest.raises(ConfigError, match="run r: a batch of 1 examples cannot be split over 2 processes"):
        World(0, 2).check_batches(101, 50, "r")
    World(0, 2).check_batches(102, 50, "r")
    World().check_batches(101, 50, "r")


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """The single-process reference, the uninterrupted DDP run, and a DDP run killed at its 7th step."""
    root = tmp_path_factory.mktemp("ddp")
    subprocess.run([sys.executable, str(WORKER), "single"], cwd=root, env=_env(), check=True, timeout=300)
    _torchrun("ddp", cwd=root)
    killed = _torchrun("resumed", "--state", "train_state.pt", "--die-at", "7", cwd=root, check=False)
    assert killed.returncode != 0 and not list(root.glob("resumed.rank*"))
    assert torch.load(root / "train_state.pt", weights_only=True)["iteration"] == 4  # mid-epoch (14 per epoch)
    _torchrun("resumed", "--state", "train_state.pt", cwd=root)
    return root


def test_two_ranks_match_one_process_and_each_other(runs):
    single, rank0, rank1 = (_weights(runs / name) for name in ("single.rank0.pt", "ddp.rank0.pt", "ddp.rank1.pt"))
    assert all(torch.equal(rank0["model"][k], rank1["model"][k]) for k in rank0["model"])
    error = max(float((single["model"][k] - rank0["model"][k]).abs().max()) for k in single["model"])
    assert 0 < error <= TOLERANCE  # not bit-identical: two partial sums replace one
    assert [h["test_acc"] for h in rank0["history"]] == [h["test_acc"] for h in single["history"]]
    for rank in (rank0, rank1):
        assert all(int(rank["model"][k][~m].count_nonzero()) == 0 for k, m in rank["mask"].items())


def test_a_killed_ddp_run_resumes_bit_identical(runs):
    reference, resumed = _weights(runs / "ddp.rank0.pt"), _weights(runs / "resumed.rank1.pt")
    assert all(torch.equal(reference["model"][k], resumed["model"][k]) for k in reference["model"])
    assert resumed["history"] == reference["history"]


def test_the_train_job_launches_itself_and_rank_0_writes(tmp_path):
    config = validate_config(
        {
            "dense": {
                "d": {
                    "dataset": {"name": "digits", "size": 8, "channels": 1, "validation": 100},
                    "model": {"name": "lenet_300_100"},
                    "train": {"epochs": 1, "batch_size": 101, "lr": 0.05, "momentum": 0.9},
                }
            },
            "pruning": {"magnitude": {"method": "magnitude"}},
            "branches": {"finetune": {"type": "finetune", "train": {"epochs": 1, "lr": 0.001}}},
            "experiments": {
                "ft": {"dense": ["d"], "pruning": ["magnitude"], "sparsities": [0.5], "branches": ["finetune"]}
            },
        }
    )
    run_hash, spec = next((h, s) for h, s in build_plan(config).specs.items() if s["kind"] == "dense")
    models = {}
    for processes in (1, 2):
        results = tmp_path / f"p{processes}"
        directory = run_dir(results, "dense", run_hash)
        subprocess.run(
            [
                sys.executable,
                "-m",
                "prunelab",
                "train",
                "--spec",
                canonical_json(spec),
                "--run-dir",
                str(directory),
                "--results",
                str(results),
                "--device",
                "cpu",
                "--processes",
                str(processes),
            ],
            env=_env(),
            check=True,
            timeout=300,
            capture_output=True,
        )
        assert sorted(p.name for p in directory.iterdir()) == [
            "metrics.json",
            "model.pt",
            "provenance.json",
            "snapshots.pt",
            "spec.json",
        ]
        assert json.loads((directory / "metrics.json").read_text())["iterations"] == 14
        assert json.loads((directory / "provenance.json").read_text())["processes"] == processes
        models[processes] = _weights(directory / "model.pt")
    assert max(float((models[1][k] - models[2][k]).abs().max()) for k in models[1]) <= TOLERANCE


def test_a_two_rank_job_runs_through_the_slurm_profile(tmp_path):
    require_cluster()
    config = {
        "suite": "ddp-slurm",
        "runtime": {"device": "cpu", "processes": 2, "loader_workers": 0},
        "dense": {
            "d": {
                "dataset": {
                    "name": "image_folder",
                    "path": str(write_image_folder(tmp_path / "f")),
                    "size": 16,
                    "validation": 4,
                },
                "model": {"name": "mlp", "widths": [32]},
                "train": {"epochs": 1, "batch_size": 4, "lr": 0.05},
                "seeds": [0],
            }
        },
        "experiments": {"e": {"dense": ["d"]}},
    }
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(config))
    run_hash = next(h for h, s in build_plan(validate_config(config)).specs.items() if s["kind"] == "dense")
    directory = run_dir(tmp_path / "results", "dense", run_hash)
    command = [
        str(BIN / "snakemake"),
        "--snakefile",
        str(ROOT / "Snakefile"),
        "--directory",
        str(tmp_path),
        "--configfile",
        str(path),
        "--workflow-profile",
        str(ROOT / "workflow" / "profiles" / "slurm"),
        "--default-resources",
        "slurm_account=local",
        "slurm_partition=debug",
        "--max-threads",
        "2",
        "--set-resources",
        "train:mem_mb=2048",
        "--jobs",
        "1",
        "--latency-wait",
        "5",
        "--retries",
        "0",
        "--slurm-init-seconds-before-status-checks",
        "2",
        str((directory / "provenance.json").relative_to(tmp_path)),
    ]
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}", "PYTHONPATH": str(ROOT / "src")}
    done = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, (done.stdout + done.stderr)[-4000:]
    record = json.loads((directory / "provenance.json").read_text())
    assert record["processes"] == 2 and record["host"]["slurm_job_id"]
    assert json.loads((directory / "metrics.json").read_text())["iterations"] == 5
