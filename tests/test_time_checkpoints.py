"""Time-based checkpoints: saved when wall time (not the iteration count) says so, and harmless to results.

A fake clock that advances one unit per reading makes the save points deterministic. The oracle is the
uninterrupted run: training with extra mid-epoch checkpoints, and resuming from one of them in a fresh
process-like setting (new model, new optimizer), must both end with bit-identical weights.
"""

import shutil

import pytest
import torch
from conftest import TickingClock

from prunelab.data.tensors import load_dataset
from prunelab.models import build_model
from prunelab.training.loop import CheckpointPolicy
from prunelab.training.single_model import Trainer

TRAIN = {
    "epochs": 2,
    "batch_size": 128,
    "lr": 0.05,
    "momentum": 0.9,
    "weight_decay": 1e-4,
    "schedule": {"name": "cosine"},
}


@pytest.fixture(scope="module")
def digits8():
    return load_dataset({"name": "digits", "size": 8, "channels": 1, "validation": 100})


class RecordingPolicy(CheckpointPolicy):
    """Keeps a copy of every checkpoint the loop writes, keyed by iteration."""

    def __init__(self, policy: CheckpointPolicy, copies):
        super().__init__(policy.path, policy.every, policy.seconds, policy.clock)
        self.copies = copies

    def saved(self, iteration):
        super().saved(iteration)
        shutil.copy(self.path, self.copies / f"state-{iteration}.pt")


class RecordingTrainer(Trainer):
    """A trainer whose checkpoint policy keeps a copy of every checkpoint."""

    def __init__(self, *args, copies, **kwargs):
        super().__init__(*args, **kwargs)
        self.checkpoints = RecordingPolicy(self.checkpoints, copies)


def _model(data):
    return build_model({"name": "lenet_300_100"}, data.input_shape, data.num_classes, seed=0)


def _train(data, tmp_path, **kwargs):
    model = _model(data)
    messages = []
    trainer = RecordingTrainer(
        model,
        data,
        TRAIN,
        data_seed=0,
        label="run",
        checkpoint_every="100ep",
        state_path=tmp_path / "train_state.pt",
        copies=tmp_path,
        log=messages.append,
        **kwargs,
    )
    trainer.run()
    return model.state_dict(), trainer, messages


def test_time_based_checkpoints_fall_mid_epoch_and_do_not_change_the_weights(digits8, tmp_path):
    reference, _, _ = _train(digits8, tmp_path / "plain")
    assert not list((tmp_path / "plain").glob("state-*.pt"))  # checkpoint_every=100ep, no timer: no saves
    weights, trainer, _ = _train(digits8, tmp_path, checkpoint_seconds=5, clock=TickingClock())
    saved = sorted(int(p.stem.split("-")[1]) for p in tmp_path.glob("state-*.pt"))
    assert len(saved) >= 3 and any(it % trainer.ipe for it in saved), saved
    assert all(torch.equal(weights[k], reference[k]) for k in reference)


def test_resuming_from_a_time_based_checkpoint_is_bit_identical(digits8, tmp_path):
    reference, trainer, _ = _train(digits8, tmp_path, checkpoint_seconds=5, clock=TickingClock())
    middle = sorted(
        int(p.stem.split("-")[1]) for p in tmp_path.glob("state-*.pt") if int(p.stem.split("-")[1]) % trainer.ipe
    )[0]
    resume_dir = tmp_path / "resume"
    resume_dir.mkdir()
    shutil.copy(tmp_path / f"state-{middle}.pt", resume_dir / "train_state.pt")
    weights, _, messages = _train(digits8, resume_dir)
    assert any(f"at iteration {middle}" in m and m.startswith("[run] resumed from") for m in messages), messages
    assert all(torch.equal(weights[k], reference[k]) for k in reference)


def test_rng_state_survives_a_weights_only_round_trip(tmp_path):
    """The resume checkpoint must load with weights_only=True and restore numpy's generator exactly."""
    import random

    import numpy as np

    from prunelab.records.storage import load_tensors, save_tensors
    from prunelab.training.single_model import rng_state, set_rng_state

    np.random.seed(7)
    np.random.normal()  # leaves a cached Gaussian in the state
    save_tensors(tmp_path / "rng.pt", rng_state())
    expected = (np.random.normal(), np.random.rand(3).tolist(), random.random(), torch.rand(2).tolist())
    set_rng_state(load_tensors(tmp_path / "rng.pt"))
    assert (np.random.normal(), np.random.rand(3).tolist(), random.random(), torch.rand(2).tolist()) == expected
