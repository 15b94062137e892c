"""Streamed image folders: the stream is a pure function of (data seed, epoch, sample index).

Oracles: the same batches whatever the number of DataLoader workers; a run resumed mid-epoch from its
checkpoint (with another worker count) ends bit-identical to the uninterrupted run; the random-resized-crop
boxes stay inside the image with the requested area; bad folders are one clear line.
"""

import shutil

import pytest
import torch
from image_folder import write_image_folder

from prunelab.data.stream import StreamData, resized_crop_box, sample_generator
from prunelab.data.tensors import load_dataset
from prunelab.errors import ConfigError, DataError
from prunelab.models import build_model
from prunelab.training.single_model import Trainer

SPEC = {
    "name": "image_folder",
    "size": 16,
    "validation": 4,
    "split_seed": 0,
    "augment": {"resized_crop": [0.25, 1.0], "flip": True},
}
TRAIN = {
    "epochs": 2,
    "batch_size": 4,
    "lr": 0.05,
    "momentum": 0.9,
    "weight_decay": 1e-4,
    "schedule": {"name": "cosine"},
}


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return write_image_folder(tmp_path_factory.mktemp("folder"))


def _data(folder, workers):
    return load_dataset({**SPEC, "path": str(folder)}, workers=workers)


def test_listing_splits_and_shapes(folder):
    data = _data(folder, 0)
    assert isinstance(data, StreamData)
    assert (len(data.train_y), len(data.val_y), len(data.test_y), data.num_classes) == (20, 4, 9, 3)
    assert data.input_shape == (3, 16, 16)
    xb, yb = next(iter(data.test_x.eval_batches(5)))
    assert xb.shape == (5, 3, 16, 16) and xb.dtype == torch.float32 and torch.equal(yb, data.test_y[:5])


def test_batches_do_not_depend_on_the_worker_count_or_the_start(folder):
    serial, parallel = _data(folder, 0), _data(folder, 2)
    a = list(serial.epoch_batches(4, seed=3, epoch=1))
    b = list(parallel.epoch_batches(4, seed=3, epoch=1))
    tail = list(parallel.epoch_batches(4, seed=3, epoch=1, start=2))
    assert len(a) == 5 and all(torch.equal(x, y) and torch.equal(u, v) for (x, u), (y, v) in zip(a, b))
    assert all(torch.equal(x, y) for (x, _), (y, _) in zip(a[2:], tail))
    other_epoch = list(serial.epoch_batches(4, seed=3, epoch=2))
    assert not all(torch.equal(x, y) for (x, _), (y, _) in zip(a, other_epoch))


class CopyingTrainer(Trainer):
    """Keeps every checkpoint it writes, keyed by iteration (its checkpoint policy's ``saved`` hook)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        saved = self.checkpoints.saved

        def copy(iteration):
            saved(iteration)
            shutil.copy(self.state_path, self.state_path.parent / f"state-{iteration}.pt")

        self.checkpoints.saved = copy


def _train(data, directory, checkpoint_every):
    model = build_model({"name": "resnet18", "width": 4}, data.input_shape, data.num_classes, seed=0)
    messages = []
    CopyingTrainer(
        model,
        data,
        TRAIN,
        data_seed=7,
        label="run",
        state_path=directory / "train_state.pt",
        checkpoint_every=checkpoint_every,
        log=messages.append,
    ).run()
    return model.state_dict(), messages


def test_resume_mid_epoch_with_another_worker_count_is_bit_identical(folder, tmp_path):
    reference, _ = _train(_data(folder, 2), tmp_path, "3it")  # 5 iterations per epoch: 3 is mid-epoch
    resume = tmp_path / "resume"
    resume.mkdir()
    shutil.copy(tmp_path / "state-3.pt", resume / "train_state.pt")
    weights, messages = _train(_data(folder, 0), resume, "100ep")
    assert any("resumed from" in m and "at iteration 3" in m for m in messages), messages
    assert all(torch.equal(weights[k], reference[k]) for k in reference)


@pytest.mark.parametrize("shape", [(20, 40), (300, 50), (50, 300)])
def test_resized_crop_boxes_fit_and_respect_the_area_range(shape):
    height, width = shape
    for index in range(200):
        top, left, h, w = resized_crop_box(sample_generator(1, 0, index), height, width, (0.25, 1.0))
        assert 0 <= top and top + h <= height and 0 <= left and left + w <= width and h > 0 and w > 0
        if shape == (20, 40):  # room for every aspect ratio: the area fraction is the requested one
            assert 0.2 <= h * w / (height * width) <= 1.0


@pytest.mark.parametrize("workers", [0, 1])
def test_an_unreadable_image_is_one_line_naming_it(folder, tmp_path, workers):
    broken = tmp_path / "broken"
    shutil.copytree(folder, broken)
    bad = broken / "val" / "class_1" / "img_0.jpg"
    bad.write_bytes(b"\xff\xd8 truncated")
    data = load_dataset({**SPEC, "path": str(broken)}, workers=workers)
    with pytest.raises(DataError) as info:
        list(data.test_x.eval_batches(4))
    assert str(info.value).startswith(f"{bad}: not a readable image") and "\n" not in str(info.value)


def test_missing_folder_and_padding_crop_are_one_clear_line(folder, tmp_path):
    with pytest.raises(DataError, match=f"{tmp_path / 'absent' / 'train'} is not a directory"):
        load_dataset({**SPEC, "path": str(tmp_path / "absent")})
    with pytest.raises(ConfigError, match="dataset.path is required"):
        load_dataset({"name": "image_folder"})
    with pytest.raises(ConfigError, match="augment.crop_padding is for in-memory datasets"):
        load_dataset({**SPEC, "path": str(folder), "augment": {"crop_padding": 4}})
    with pytest.raises(ConfigError, match="dataset.channels=1: 'image_folder' images are decoded as RGB"):
        load_dataset({**SPEC, "path": str(folder), "channels": 1})


def test_an_image_folder_trains_prunes_and_branches_through_snakemake(tmp_path):
    import json

    import yaml
    from conftest import snakemake

    config = {
        "suite": "stream",
        "runtime": {"loader_workers": 1, "device": "cpu"},
        "dense": {
            "r18": {
                "dataset": {**SPEC, "path": "images"},
                "model": {"name": "resnet18", "width": 4},
                "train": {**TRAIN, "save_at": ["0it"]},
                "seeds": [0],
            }
        },
        "pruning": {"l1": {"method": "l1_blocks"}},
        "branches": {"scratch_b": {"type": "scratch_b"}},
        "experiments": {
            "blocks": {"dense": ["r18"], "pruning": ["l1"], "sparsities": [0.5], "branches": ["scratch_b"]}
        },
    }
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(config))
    # no folder yet: one line naming it, before any job (an image folder's size comes from its listing, so
    # unlike ImageNet's known split sizes it is needed to plan at all)
    refused = snakemake(tmp_path, "--configfile", str(tmp_path / "config.yaml"), "--cores", "2", check=False)
    assert refused.returncode != 0
    assert "images/train is not a directory" in refused.stdout + refused.stderr
    assert not (tmp_path / "results" / "runs").exists()
    write_image_folder(tmp_path / "images")
    snakemake(tmp_path, "--configfile", str(tmp_path / "config.yaml"), "--cores", "2")
    runs = {
        kind: [json.loads((d / "metrics.json").read_text()) for d in (tmp_path / "results/runs" / kind).iterdir()]
        for kind in ("dense", "prune", "branch")
    }
    assert [len(runs[k]) for k in ("dense", "prune", "branch")] == [1, 1, 1]
    dense = runs["dense"][0]
    assert dense["status"] == "ok" and dense["iterations"] == 10 and len(dense["history"]) == 2
    assert 0 <= dense["final"]["test_acc"] <= 100
    scratch_b = runs["branch"][0]
    notes = scratch_b["notes"]
    assert scratch_b["status"] == "ok" and notes["flops_ratio"] > 1  # half of each block's filters gone
    assert scratch_b["epochs"] == notes["scratch_b_epochs"] == int(2 * notes["flops_ratio"])
    assert {m["data_fingerprint"] for kind in runs.values() for m in kind} == {dense["data_fingerprint"]}


def test_scorers_get_the_chosen_images_with_the_evaluation_transform(folder):
    from prunelab.pruning.multistep import scoring_batches

    data = _data(folder, 0)
    batches = scoring_batches(data, examples=6, batch_size=4, seed=2)
    assert [len(y) for _, y in batches] == [4, 2]
    chosen = torch.randperm(20, generator=torch.Generator().manual_seed(2))[:6].tolist()
    expected = torch.cat([x for x, _ in data.train_x.eval_batches(6, chosen)])
    assert torch.equal(torch.cat([x for x, _ in batches]), expected)
    assert torch.equal(torch.cat([y for _, y in batches]), data.train_y[chosen])


def test_seed_groups_refuse_streamed_and_imported_runs():
    from prunelab.plan.seed_groups import seed_groups

    spec = {"kind": "dense", "dataset": {"name": "imagenet"}, "seed": {"init": 0, "data": 0}}
    with pytest.raises(ConfigError, match="runtime.group_seeds: dense run abc streams 'imagenet'"):
        seed_groups({"abc": spec})
    imported = {**spec, "dataset": {"name": "digits"}, "checkpoint": {"path": "w.pt", "sha256": "0" * 64}}
    with pytest.raises(ConfigError, match="dense run abc imports its weights"):
        seed_groups({"abc": imported})
