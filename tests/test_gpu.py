"""What only a CUDA device can check: the device itself, GPU-resident data, grouped training against one-by-one
runs, bf16 and channels_last on tensor-core kernels, and a CUDA job through the CLI (which bypasses the job
worker). Marked ``gpu`` and skipped without CUDA; ``benchmarks/gpu.sh`` runs them, the CUDA-graph test of
test_acceleration.py (also marked ``gpu``) and the GPU benchmarks.

Tolerances: float32 on a GPU is not bit-reproducible against another kernel sequence (grouped convolutions,
NHWC kernels, TF32 is off by default for matmuls but cuDNN may pick other algorithms), so models are compared
after a few dozen steps with rtol 1e-3 / atol 1e-4 on the weights; bf16 against fp32 with rtol 0.05 / atol 0.02.
"""

import json
import os
import subprocess
import sys

import pytest
import torch

from prunelab.data.batches import EpochPlan
from prunelab.data.tensors import load_dataset
from prunelab.jobs.runtime import Runtime
from prunelab.models import build_model
from prunelab.training.single_model import Trainer
from prunelab.training.stacked import GroupedTrainer

pytestmark = [pytest.mark.gpu, pytest.mark.skipif(not torch.cuda.is_available(), reason="no GPU: needs CUDA")]

TRAIN = {
    "epochs": 1,
    "batch_size": 128,
    "optimizer": "sgd",
    "lr": 0.05,
    "momentum": 0.9,
    "nesterov": False,
    "weight_decay": 5e-4,
    "warmup_epochs": 0,
    "schedule": {"name": "constant"},
    "save_at": [],
}
FLOAT32 = {"rtol": 1e-3, "atol": 1e-4}
BF16 = {"rtol": 0.05, "atol": 0.02}
SEEDS = [0, 1, 2]


@pytest.fixture(scope="module")
def gpu_digits():
    return load_dataset(
        {"name": "digits", "size": 8, "channels": 1, "validation": 100, "augment": {"crop_padding": 1, "flip": True}},
        device="cuda",
    )


def lenet5(seed):
    return build_model({"name": "lenet5"}, (1, 8, 8), 10, seed=seed).cuda()


def trained(data, train, seed=0, make=lenet5, **kwargs):
    model = make(seed)
    Trainer(model, data, train, data_seed=seed, label=str(seed), log=lambda _: None, **kwargs).run()
    return model


def assert_models_close(a, b, tolerance):
    for (name, x), y in zip(a.state_dict().items(), b.state_dict().values()):
        if x.is_floating_point():
            torch.testing.assert_close(y, x, msg=name, **tolerance)


def test_runtime_picks_the_gpu_and_applies_determinism():
    device = Runtime(device="auto", deterministic=True).configure()
    assert device.type == "cuda"
    assert torch.are_deterministic_algorithms_enabled() and not torch.backends.cudnn.benchmark
    assert os.environ["CUBLAS_WORKSPACE_CONFIG"] == ":4096:8"


def test_data_and_batches_stay_on_the_gpu(gpu_digits):
    assert all(getattr(gpu_digits, k).is_cuda for k in ("train_x", "train_y", "val_x", "test_x"))
    plan = EpochPlan.make(len(gpu_digits.train_y), 128, seed=0, epoch=0, augment=gpu_digits.augment)
    xb, yb = next(plan.batches(gpu_digits.train_x, gpu_digits.train_y))
    assert xb.is_cuda and yb.is_cuda and xb.shape[0] == 128


def test_gpu_training_is_deterministic(gpu_digits):
    Runtime(device="cuda", deterministic=True).configure()
    assert_models_close(trained(gpu_digits, TRAIN), trained(gpu_digits, TRAIN), {"rtol": 0, "atol": 0})


def test_grouped_matches_one_by_one_on_the_gpu(gpu_digits):
    reference = [trained(gpu_digits, TRAIN, seed) for seed in SEEDS]
    models = [lenet5(seed) for seed in SEEDS]
    GroupedTrainer(
        models, gpu_digits, TRAIN, data_seeds=SEEDS, labels=[str(s) for s in SEEDS], log=lambda _: None
    ).run()
    for r, g in zip(reference, models):
        assert_models_close(r, g, FLOAT32)
    assert not torch.equal(models[0].state_dict()["features.0.weight"], models[1].state_dict()["features.0.weight"])


def test_bf16_and_channels_last_on_the_gpu(gpu_digits):
    fp32 = trained(gpu_digits, TRAIN)
    nhwc = trained(gpu_digits, {**TRAIN, "channels_last": True})
    assert nhwc.features[3].weight.is_contiguous(memory_format=torch.channels_last)
    assert_models_close(fp32, nhwc, FLOAT32)
    bf16 = trained(gpu_digits, {**TRAIN, "precision": "bf16"})
    assert any(not torch.equal(a, b) for a, b in zip(fp32.parameters(), bf16.parameters()))
    assert_models_close(fp32, bf16, BF16)


def test_a_cuda_job_runs_on_the_gpu_in_a_process_of_its_own(tmp_path, monkeypatch):
    from test_job_worker import SOURCE, dense_spec

    from prunelab.cli import handoff as job_client
    from prunelab.records.hashing import spec_hash

    monkeypatch.setenv("PRUNELAB_DEVICE", "cpu")  # so that a worker starts, and then ask for CUDA
    handle = job_client.start(SOURCE)
    try:
        spec = dense_spec()
        run_dir = tmp_path / spec_hash(spec)
        subprocess.run(
            [
                sys.executable,
                "-m",
                "prunelab",
                "train",
                "--spec",
                json.dumps(spec),
                "--run-dir",
                str(run_dir),
                "--device",
                "cuda",
            ],
            check=True,
            cwd=tmp_path,
            env={**os.environ, "PYTHONPATH": SOURCE},
        )
    finally:
        handle.stop()
    record = json.loads((run_dir / "provenance.json").read_text())
    assert record["environment"]["cuda"] and record["hardware"]["gpu"]
    assert record["host"]["job_worker"] is None
