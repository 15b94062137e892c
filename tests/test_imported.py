"""Imported dense checkpoints: the file's sha256 names the run, the job evaluates the loaded weights through
the training loop with zero iterations, and every way a file can be wrong is one line naming it."""

import copy
import json

import pytest
import torch

from prunelab.config.validation import validate_config
from prunelab.errors import CheckpointError, ConfigError
from prunelab.jobs.kinds import run_dense
from prunelab.jobs.runtime import Runtime
from prunelab.models import build_model
from prunelab.plan.build import build_plan
from prunelab.records.layout import run_dir
from prunelab.training.single_model import evaluate

DATASET = {"name": "digits", "size": 8, "channels": 1, "validation": 100}
MODEL = {"name": "lenet_300_100"}


def _config(checkpoint):
    return validate_config(
        {
            "dense": {
                "released": {
                    "dataset": DATASET,
                    "model": MODEL,
                    "checkpoint": str(checkpoint),
                    "train": {"epochs": 3, "batch_size": 128, "lr": 0.1},
                }
            },
            "pruning": {"magnitude": {"method": "magnitude"}},
            "branches": {"finetune": {"type": "finetune", "train": {"epochs": 1, "lr": 0.001}}},
            "experiments": {
                "ft": {"dense": ["released"], "pruning": ["magnitude"], "sparsities": [0.5], "branches": ["finetune"]}
            },
        }
    )


def _dense(plan):
    return next((h, s) for h, s in plan.specs.items() if s["kind"] == "dense")


@pytest.fixture
def weights(tmp_path):
    model = build_model(MODEL, (1, 8, 8), 10, seed=5)
    path = tmp_path / "released.pt"
    torch.save(model.state_dict(), path)
    return path, model


def test_the_sha256_names_the_run_and_the_job_evaluates_the_loaded_weights(weights, tmp_path):
    path, model = weights
    run_hash, spec = _dense(build_plan(_config(path)))
    assert len(spec["checkpoint"]["sha256"]) == 64
    directory = run_dir(tmp_path / "results", "dense", run_hash)
    run_dense(spec, directory, Runtime(results=tmp_path / "results", device="cpu"), log=lambda m: None)
    saved = torch.load(directory / "model.pt", weights_only=True)
    assert all(torch.equal(saved[k], v) for k, v in model.state_dict().items())
    from prunelab.data.tensors import load_dataset

    data = load_dataset(DATASET)
    metrics = json.loads((directory / "metrics.json").read_text())
    assert (
        metrics["iterations"] == 0 and metrics["final"]["test_acc"] == evaluate(model, data.test_x, data.test_y)["acc"]
    )
    record = json.loads((directory / "provenance.json").read_text())
    assert spec["checkpoint"]["sha256"] in json.dumps(record)

    other = build_model(MODEL, (1, 8, 8), 10, seed=6)
    torch.save(other.state_dict(), path)  # different bytes: a different run
    assert _dense(build_plan(_config(path)))[0] != run_hash


def test_a_file_changed_after_planning_is_refused(weights, tmp_path):
    path, _ = weights
    run_hash, spec = _dense(build_plan(_config(path)))
    torch.save(build_model(MODEL, (1, 8, 8), 10, seed=9).state_dict(), path)
    with pytest.raises(CheckpointError, match=f"^{path}: sha256 .* differs from the planned"):
        run_dense(spec, run_dir(tmp_path / "r", "dense", run_hash), Runtime(results=tmp_path / "r", device="cpu"))
    assert not any((tmp_path / "r").rglob("*.json"))  # no partial outputs


@pytest.mark.parametrize(
    "content,message",
    [
        ("corrupt", "corrupt or truncated tensor file"),
        ("shape", r"net\.1\.weight has shape \(300, 32\), the configured model needs \(300, 64\)"),
        ("keys", "does not fit the configured model"),
        ("code", "corrupt or truncated tensor file"),
    ],
)
def test_bad_files_are_one_line_naming_the_file(tmp_path, content, message):
    path = tmp_path / "bad.pt"
    if content == "corrupt":
        path.write_bytes(b"not a zip archive at all")
    elif content == "shape":
        torch.save(build_model(MODEL, (1, 4, 8), 10, seed=0).state_dict(), path)
    elif content == "keys":
        torch.save({"weight": torch.zeros(3)}, path)
    else:  # an arbitrary pickled object: weights_only refuses to run its code
        torch.save({"model": build_model(MODEL, (1, 8, 8), 10)}, path)
    run_hash, spec = _dense(build_plan(_config(path)))
    with pytest.raises(CheckpointError, match=message) as info:
        run_dense(spec, run_dir(tmp_path / "r", "dense", run_hash), Runtime(results=tmp_path / "r", device="cpu"))
    assert str(info.value).startswith(str(path)) and "\n" not in str(info.value)


def test_missing_file_and_rewinding_are_config_errors(weights, tmp_path):
    path, _ = weights
    with pytest.raises(ConfigError, match=r"key dense\.released\.checkpoint: checkpoint file .* not found"):
        build_plan(_config(tmp_path / "absent.pt"))
    config = copy.deepcopy(_config(path))
    config["branches"]["ticket"] = {"type": "lottery", "rewind": "0it"}
    config["experiments"]["ft"]["branches"] = ["ticket"]
    with pytest.raises(ConfigError, match="imports its weights .* has no training snapshots"):
        build_plan(validate_config(config))
