"""The shared loop's policies: the best epoch is chosen on validation only, checkpoints by wall time."""

import math

import pytest

from prunelab.analysis.aggregate import _metrics_row, last_tenth_change
from prunelab.data.tensors import load_dataset
from prunelab.errors import CheckpointError
from prunelab.models import build_model
from prunelab.records.storage import save_tensors
from prunelab.training.loop import CheckpointPolicy, DivergencePolicy
from prunelab.training.single_model import Trainer

TRAIN = {"epochs": 4, "batch_size": 128, "lr": 0.05, "momentum": 0.9, "schedule": {"name": "cosine"}}


def _run(validation: int):
    data = load_dataset({"name": "digits", "size": 8, "channels": 1, "validation": validation})
    model = build_model({"name": "lenet_300_100"}, data.input_shape, data.num_classes, seed=0)
    return Trainer(model, data, TRAIN, data_seed=0, label="run", log=lambda _: None).run()


def test_the_best_epoch_is_the_first_with_the_highest_validation_accuracy():
    outcome = _run(100)
    top = max(row["val_acc"] for row in outcome.history)
    assert outcome.best == next(row for row in outcome.history if row["val_acc"] == top)


def test_without_validation_no_epoch_is_best_and_the_table_has_no_best_test_acc():
    outcome = _run(0)
    assert len(outcome.history) == 4 and outcome.best == {}
    metrics = {"final": outcome.final, "best": outcome.best, "epochs": outcome.epochs}
    values = _metrics_row({"stage": "dense"}, metrics, None)
    assert values["test_acc"] == outcome.final["test_acc"] and values["best_test_acc"] != values["best_test_acc"]


def test_wall_time_checkpoints_are_due_after_the_given_seconds_only_with_a_path(tmp_path):
    now = [0.0]
    policy = CheckpointPolicy(tmp_path / "state.pt", every=10, seconds=5, clock=lambda: now[0])
    policy.restart()
    now[0] = 4.9
    assert not policy.wall_due()
    now[0] = 5.0
    assert policy.wall_due() and not policy.interval_due(5) and policy.interval_due(20)
    policy.saved(7)
    assert not policy.wall_due()
    assert not CheckpointPolicy(None, every=10, seconds=5, clock=lambda: 100.0).wall_due()


def test_an_unknown_divergence_mode_is_refused():
    with pytest.raises(ValueError, match="on_divergence='ignore'"):
        DivergencePolicy("ignore")


def test_a_resume_checkpoint_of_the_old_single_loop_is_refused_in_one_line(tmp_path):
    data = load_dataset({"name": "digits", "size": 8, "channels": 1, "validation": 100})
    model = build_model({"name": "lenet_300_100"}, data.input_shape, data.num_classes, seed=0)
    save_tensors(tmp_path / "train_state.pt", {"label": "run", "iteration": 3, "history": [], "best": {}})
    trainer = Trainer(
        model, data, TRAIN, data_seed=0, label="run", state_path=tmp_path / "train_state.pt", log=lambda _: None
    )
    with pytest.raises(CheckpointError, match=r"train_state\.pt: resume checkpoint from an older prunelab"):
        trainer.run()


def test_the_last_tenth_change_compares_the_last_epoch_with_the_last_one_before_the_final_tenth():
    history = [{"epoch": e, "val_acc": 80.0 + e / 10} for e in range(1, 51)]  # +0.1 point per epoch
    assert last_tenth_change(history) == pytest.approx(0.5)  # epoch 50 vs epoch 45
    assert last_tenth_change(history[:9]) == pytest.approx(0.1)  # 9 epochs: epoch 9 vs epoch 8 (8 ≤ 8.1)
    assert math.isnan(last_tenth_change(history[:1]))  # one epoch: nothing before the last tenth
    assert math.isnan(last_tenth_change([{"epoch": 1, "val_acc": None}, {"epoch": 2, "val_acc": None}]))  # no split
    outcome = _run(100)  # a real run's history
    metrics = {"final": outcome.final, "best": outcome.best, "epochs": outcome.epochs, "history": outcome.history}
    ends = [row for row in outcome.history if row["epoch"] <= 0.9 * outcome.history[-1]["epoch"]][-1]
    expected = outcome.history[-1]["val_acc"] - ends["val_acc"]
    assert _metrics_row({"stage": "dense"}, metrics, None)["val_acc_last_tenth"] == pytest.approx(expected)
