"""The ImageNet suite (workflow/experiments/rethinking-imagenet.yaml) asks a cluster for what it accepts:
one GPU per run, cores for the loader workers, memory that does not scale with the 1.3 M images, and never
more wall time than a 48 h partition allows (longer runs resume from their checkpoint on resubmission)."""

from pathlib import Path

import torch

from prunelab.config import load_config
from prunelab.models import build_model
from prunelab.plan import build_plan
from prunelab.resources import (GPU_THREADS, MAX_RUNTIME_MINUTES, STREAM_WORKERS, dense_spec_of, estimate,
                                wants_gpu)

SUITE = Path(__file__).resolve().parents[1] / "workflow" / "experiments" / "rethinking-imagenet.yaml"


def test_every_run_requests_one_gpu_within_the_partition_limits():
    config = load_config(SUITE)
    plan = build_plan(config)
    kinds = sorted(s["kind"] for s in plan.specs.values())
    assert kinds.count("dense") == 2 and kinds.count("prune") == 4 and kinds.count("branch") == 12
    assert wants_gpu(config["runtime"]["device"], on_cluster=False)
    for spec in plan.specs.values():
        for attempt in (1, 3):
            request = estimate(spec, dense_spec_of(spec, plan.specs), gpu=True, attempt=attempt)
            assert request.gpu == 1 and request.threads == GPU_THREADS + STREAM_WORKERS
            assert 5 <= request.runtime <= MAX_RUNTIME_MINUTES and request.mem_mb <= 16 * 1024
            assert not request.packable
    dense = next(s for s in plan.specs.values() if s["kind"] == "dense")
    assert estimate(dense, dense, gpu=True).seconds / 3600 > MAX_RUNTIME_MINUTES / 60  # resumes across jobs


def test_an_imported_dense_run_is_estimated_as_one_evaluation(tmp_path):
    config = load_config(SUITE)
    weights = tmp_path / "resnet34.pt"
    torch.save(build_model({"name": "resnet34"}, (3, 224, 224), 1000).state_dict(), weights)
    config["dense"]["resnet34"]["checkpoint"] = str(weights)
    plan = build_plan(config)
    imported = [s for s in plan.specs.values() if s["kind"] == "dense"]
    assert all(s["checkpoint"]["path"] == str(weights) and s["train"]["save_at"] == [] for s in imported)
    trained = next(s for s in build_plan(load_config(SUITE)).specs.values() if s["kind"] == "dense")
    seconds = estimate(imported[0], imported[0], gpu=True).seconds
    assert seconds < estimate(trained, trained, gpu=True).seconds / 50
