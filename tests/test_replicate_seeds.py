"""Pruning and scoring seeds are per replicate: the prune spec of each dense seed carries its own seeds, the
real prune job draws a different random mask for each, and the seeds it used are in its provenance."""

import json

import torch

from prunelab.config.validation import validate_config
from prunelab.jobs.kinds import run_dense, run_prune
from prunelab.jobs.runtime import Runtime
from prunelab.plan.build import build_plan


def _config():
    return {
        "dense": {
            "mlp": {
                "dataset": {"name": "digits", "size": 8, "channels": 1, "validation": 100},
                "model": {"name": "mlp", "widths": [16]},
                "train": {"epochs": 1, "batch_size": 128, "lr": 0.05},
                "seeds": [3, 8],
            }
        },
        "pruning": {
            "random": {"method": "random", "seed": 5},
            "snip": {
                "method": "snip",
                "scoring": {"examples": 32, "batch_size": 32, "seed": 2},
                "jsv": {"batches": 1, "batch_size": 16, "seed": 4},
            },
        },
        "experiments": {"e": {"dense": ["mlp"], "pruning": ["random", "snip"], "sparsities": [0.5]}},
    }


def test_prune_seeds_are_the_config_seeds_plus_the_replicate():
    plan = build_plan(validate_config(_config()))
    rows = [r for r in plan.experiments["e"] if r["stage"] == "pruned"]
    seen = {(r["pruning"], r["seed"]): plan.specs[r["run"]] for r in rows}
    assert {k: s["seed"] for k, s in seen.items()} == {
        ("random", 3): 8,
        ("random", 8): 13,
        ("snip", 3): 3,
        ("snip", 8): 8,
    }
    assert seen["snip", 3]["scoring"]["seed"] == 5 and seen["snip", 8]["scoring"]["seed"] == 10
    assert seen["snip", 3]["jsv"]["seed"] == 7 and seen["snip", 8]["jsv"]["seed"] == 12


def test_random_masks_differ_across_dense_seeds_and_provenance_has_the_seeds(tmp_path):
    plan = build_plan(validate_config(_config()))
    rt = Runtime(results=tmp_path, device="cpu", threads=1)
    for run_hash in plan.hashes("dense"):
        run_dense(plan.specs[run_hash], tmp_path / "runs" / "dense" / run_hash, rt, log=lambda m: None)
    masks, recorded = [], []
    for row in (r for r in plan.experiments["e"] if r["stage"] == "pruned" and r["pruning"] == "random"):
        directory = tmp_path / "runs" / "prune" / row["run"]
        run_prune(plan.specs[row["run"]], directory, rt, log=lambda m: None)
        masks.append(torch.load(directory / "mask.pt", weights_only=True))
        recorded.append(json.loads((directory / "provenance.json").read_text())["seeds"])
    assert recorded == [{"prune": 8}, {"prune": 13}]
    assert masks[0].keys() == masks[1].keys()
    assert any(not torch.equal(masks[0][k], masks[1][k]) for k in masks[0])
