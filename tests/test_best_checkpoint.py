"""Save point `best`: the weights of the best-validation epoch, kept while training (Laurent et al. prune their
dense net's best-validation checkpoint). Oracle: the snapshot saved at that epoch's own iteration."""

import pytest
import torch

from prunelab.config.validation import validate_config
from prunelab.data.tensors import load_dataset
from prunelab.jobs.kinds import run_dense, run_prune
from prunelab.jobs.runtime import Runtime
from prunelab.models import build_model
from prunelab.plan.build import build_plan
from prunelab.pruning.select import select
from prunelab.records import layout
from prunelab.records.storage import load_tensors
from prunelab.training.masks import Mask
from prunelab.training.single_model import Trainer
from prunelab.training.stacked import GroupedTrainer

EPOCHS = 8
# a large constant LR makes validation accuracy move up and down, so the best epoch is not the last one
TRAIN = {"epochs": EPOCHS, "batch_size": 64, "lr": 0.3, "momentum": 0.9, "schedule": {"name": "constant"}}
EVERY_EPOCH = [f"{e}ep" for e in range(1, EPOCHS + 1)]


@pytest.fixture(scope="module")
def digits8():
    return load_dataset({"name": "digits", "size": 8, "channels": 1, "validation": 200})


def mlp(seed):
    return build_model({"name": "mlp", "widths": [16]}, (1, 8, 8), 10, seed=seed)


def assert_same_weights(a: dict, b: dict, what: str):
    assert list(a) == list(b), what
    for name in a:
        assert torch.equal(a[name], b[name]), f"{what}: {name}"


def test_best_is_the_snapshot_of_the_best_validation_epoch(digits8):
    out = Trainer(
        mlp(0), digits8, TRAIN, data_seed=0, label="s0", save_at=[*EVERY_EPOCH, "best"], log=lambda _: None
    ).run()
    best = out.best
    assert best["val_acc"] == max(row["val_acc"] for row in out.history)
    assert best["epoch"] < EPOCHS, "the test needs a best epoch before the last to tell best from final"
    assert_same_weights(out.snapshots["best"]["model"], out.snapshots[best["iteration"]]["model"], "best")


def test_grouped_members_keep_their_own_best(digits8):
    seeds = [0, 1, 2]
    models = [mlp(s) for s in seeds]
    outcomes = GroupedTrainer(
        models,
        digits8,
        TRAIN,
        data_seeds=seeds,
        labels=[f"s{s}" for s in seeds],
        save_at=[*EVERY_EPOCH, "best"],
        log=lambda _: None,
    ).run()
    assert len({out.best["epoch"] for out in outcomes}) > 1, "members whose best epochs differ"
    for seed, out in zip(seeds, outcomes):
        snapshot = out.snapshots[out.best["iteration"]]["model"]
        assert_same_weights(out.snapshots["best"]["model"], snapshot, f"member {seed}")


def test_without_best_in_save_at_no_best_weights_are_kept(digits8):
    out = Trainer(mlp(0), digits8, TRAIN, data_seed=0, label="s0", save_at=["0it"], log=lambda _: None).run()
    assert list(out.snapshots) == [0]


def test_the_prune_job_at_best_scores_the_best_validation_weights(tmp_path):
    config = validate_config(
        {
            "dense": {
                "mlp": {
                    "dataset": {"name": "digits", "size": 8, "channels": 1, "validation": 200},
                    "model": {"name": "mlp", "widths": [16]},
                    "train": {**TRAIN, "save_at": ["best"]},
                }
            },
            "pruning": {"mp_best": {"method": "magnitude", "at": "best"}, "mp_final": {"method": "magnitude"}},
            "experiments": {"e": {"dense": ["mlp"], "pruning": ["mp_best", "mp_final"], "sparsities": [0.8]}},
        }
    )
    plan = build_plan(config)
    rt = Runtime(results=tmp_path, device="cpu", threads=1)
    (dense_hash,) = plan.hashes("dense")
    dense_dir = tmp_path / "runs" / "dense" / dense_hash
    run_dense(plan.specs[dense_hash], dense_dir, rt, log=lambda m: None)
    best_weights = load_tensors(dense_dir / layout.SNAPSHOTS)["best"]["model"]
    masks = {}
    for run_hash in plan.hashes("prune"):
        directory = tmp_path / "runs" / "prune" / run_hash
        run_prune(plan.specs[run_hash], directory, rt, log=lambda m: None)
        masks[plan.specs[run_hash]["at"]] = Mask.load(directory / layout.MASK)
    # the oracle: global magnitude selection over the best-validation weights themselves
    expected = select({name: best_weights[name].abs() for name in masks["best"]}, 0.8)
    assert_same_weights(dict(masks["best"]), dict(expected), "mask at best")
    assert any(not torch.equal(masks["best"][n], masks["final"][n]) for n in expected), "best and final differ"
