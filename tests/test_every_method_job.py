"""Every registered method through the real prune job (plan → spec → jobs.run_prune) on a trained net: the
integration the per-method oracle tests do not cover (spec fields, scoring data, weight updates, metrics)."""

import json

import pytest
import torch

from prunelab.config.validation import validate_config
from prunelab.jobs.kinds import run_dense, run_prune
from prunelab.jobs.runtime import Runtime
from prunelab.plan.build import build_plan
from prunelab.pruning import methods
from prunelab.pruning.select import prune_count

HPARAMS = {"woodfisher": {"num_grads": 16, "block_size": 32}, "l1_filter": {"layers": None}}


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    config = {
        "dense": {
            "mlp": {
                "dataset": {"name": "digits", "size": 8, "channels": 1, "validation": 100},
                "model": {"name": "mlp", "widths": [24]},
                "train": {"epochs": 1, "batch_size": 128, "lr": 0.05},
            }
        },
        "pruning": {
            name: {
                "method": name,
                "hparams": HPARAMS.get(name, {}),
                "scoring": {"examples": 64, "batch_size": 32},
                **({"at": "init"} if name in ("snip", "grasp") else {}),
            }
            for name in methods()
            if name != "l1_blocks"
        },
        "experiments": {
            "all": {"dense": ["mlp"], "pruning": sorted(n for n in methods() if n != "l1_blocks"), "sparsities": [0.6]}
        },
    }
    plan = build_plan(validate_config(config))
    root = tmp_path_factory.mktemp("methods")
    rt = Runtime(results=root, device="cpu", threads=1)
    for run_hash in plan.hashes("dense"):
        run_dense(plan.specs[run_hash], root / "runs" / "dense" / run_hash, rt, log=lambda m: None)
    return plan, root, rt


@pytest.mark.parametrize("name", sorted(n for n in methods() if n != "l1_blocks"))
def test_prune_job_of_every_method(trained, name):
    plan, root, rt = trained
    run_hash = next(h for h in plan.hashes("prune") if plan.specs[h]["method"] == name)
    directory = root / "runs" / "prune" / run_hash
    run_prune(plan.specs[run_hash], directory, rt, log=lambda m: None)
    metrics = json.loads((directory / "metrics.json").read_text())
    assert metrics["status"] == "ok" and (directory / "provenance.json").exists()
    mask = torch.load(directory / "mask.pt", weights_only=True)
    total = sum(m.numel() for m in mask.values())
    pruned = total - sum(int(m.sum()) for m in mask.values())
    if name != "l1_filter":  # l1_filter's sparsity is a unit ratio, not a weight fraction
        assert pruned == prune_count(0.6, total)
    assert (directory / "model.pt").exists() == metrics["updated_weights"]
    assert 0.0 <= metrics["pruned"]["test_acc"] <= 100.0
