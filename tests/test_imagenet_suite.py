"""The ImageNet suite (workflow/experiments/rethinking-imagenet.yaml) asks a cluster for what it accepts:
four GPUs per training run (DDP ranks, runtime.processes) and one per pruning run, cores for each rank's
loader workers, memory that does not scale with the 1.3 M images, and never more wall time than a 48 h
partition allows (longer runs resume from their checkpoint on resubmission)."""

from pathlib import Path

import torch
from conftest import snakemake

from prunelab.config.validation import load_config
from prunelab.models import build_model
from prunelab.plan.build import build_plan
from prunelab.plan.resources import (
    GPU_THREADS,
    MAX_RUNTIME_MINUTES,
    STREAM_WORKERS,
    ddp_ranks,
    dense_spec_of,
    estimate,
    wants_gpu,
)

SUITE = Path(__file__).resolve().parents[1] / "workflow" / "experiments" / "rethinking-imagenet.yaml"


def test_training_runs_request_a_gpu_per_rank_within_the_partition_limits():
    config = load_config(SUITE)
    plan = build_plan(config)
    kinds = sorted(s["kind"] for s in plan.specs.values())
    assert kinds.count("dense") == 2 and kinds.count("prune") == 4 and kinds.count("branch") == 12
    assert wants_gpu(config["runtime"]["device"], on_cluster=False) and config["runtime"]["processes"] == 4
    for spec in plan.specs.values():
        ranks = ddp_ranks(spec, 4)
        assert ranks == (1 if spec["kind"] == "prune" else 4)
        for attempt in (1, 3):
            request = estimate(spec, dense_spec_of(spec, plan.specs), gpu=True, attempt=attempt, processes=4)
            alone = estimate(spec, dense_spec_of(spec, plan.specs), gpu=True, attempt=attempt)
            assert request.gpu == ranks and request.threads == ranks * (GPU_THREADS + STREAM_WORKERS)
            assert 5 <= request.runtime <= MAX_RUNTIME_MINUTES and request.mem_mb <= ranks * 16 * 1024
            assert request.seconds < alone.seconds or ranks == 1
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


def test_a_dry_run_shows_each_job_with_its_gpu_request(tmp_path):
    out = snakemake(tmp_path, "--configfile", str(SUITE), "-n").stdout
    jobs = [block for block in out.split("\nrule ")[1:] if block.split(":", 1)[0] in ("train", "prune", "branch")]
    gpus = sorted((block.split(":", 1)[0], block.split("gpu=", 1)[1].split(",", 1)[0]) for block in jobs)
    assert gpus == [("branch", "4")] * 12 + [("prune", "1")] * 4 + [("train", "4")] * 2
