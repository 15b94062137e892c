"""The cluster-request estimator: its model table against the real models, its arithmetic, its escalation."""

import math
import subprocess
import sys

import pytest

from prunelab.metrics.flops import count
from prunelab.models import MODELS, build_model
from prunelab.plan.build import build_plan
from prunelab.plan.resources import (
    BASE_MEM_MB,
    CONV_MODELS,
    CPU_THREADS,
    GPU_MACS_PER_SECOND,
    GPU_SECONDS_PER_LAYER,
    GPU_THREADS,
    MIN_RUNTIME_MINUTES,
    SAFETY,
    STARTUP_SECONDS,
    dense_spec_of,
    estimate,
    group_request,
    has_conv,
    input_shape,
    model_size,
    wants_gpu,
)


def _layers(model):
    from torch import nn

    return sum(isinstance(m, (nn.Conv2d, nn.Linear)) for m in model.modules())


@pytest.mark.parametrize("name", sorted(CONV_MODELS))
def test_table_matches_the_real_model_at_its_reference_shape(name):
    ref = CONV_MODELS[name]
    model = build_model({"name": name}, ref.reference, 10)
    real = count(model, ref.reference)
    assert (ref.params, ref.macs, ref.layers) == (real["params_total"], real["macs"], _layers(model))


@pytest.mark.parametrize("name", sorted(MODELS))
def test_has_conv_says_which_models_of_the_zoo_have_conv_layers(name):
    """Planning shares Scratch-E's run with reinit on conv-less nets by this answer, without building the net."""
    from torch import nn

    model = build_model({"name": name, "widths": [4]}, (3, 32, 32), 10)
    assert has_conv({"name": name}) == any(isinstance(m, nn.Conv2d) for m in model.modules())


@pytest.mark.parametrize(
    "model,shape",
    [
        ({"name": "lenet_300_100"}, (1, 8, 8)),
        ({"name": "lenet_300_100"}, (1, 28, 28)),
        ({"name": "mlp7", "width": 40}, (3, 16, 16)),
        ({"name": "mlp", "widths": [20, 7]}, (1, 12, 12)),
    ],
)
def test_mlp_sizes_are_exact_for_any_input(model, shape):
    real = count(build_model(model, shape, 10), shape)
    size = model_size(model, shape)
    assert (size.params, size.macs) == (real["params_total"], real["macs"])


def test_conv_macs_scale_with_image_area_and_resnet_width():
    shape = (3, 16, 16)
    for spec in ({"name": "resnet20"}, {"name": "resnet20", "width": 32}):
        real = count(build_model(spec, shape, 10), shape)["macs"]
        assert model_size(spec, shape).macs == pytest.approx(real, rel=0.01)


def test_input_shape_applies_the_dataset_overrides():
    assert input_shape({"name": "digits"}) == (1, 8, 8)
    assert input_shape({"name": "digits", "size": 32, "channels": 3}) == (3, 32, 32)
    assert input_shape({"name": "cifar10"}) == (3, 32, 32)


def test_dense_ancestor_is_found_through_prune_and_branch_links():
    config = {
        "dense": {
            "d": {
                "dataset": {"name": "digits", "size": 8},
                "model": {"name": "lenet_300_100"},
                "train": {
                    "epochs": 1,
                    "batch_size": 64,
                    "lr": 0.1,
                    "save_at": ["0it"],
                    "schedule": {"name": "constant"},
                },
                "seeds": [0],
            }
        },
        "pruning": {
            "m": {
                "method": "magnitude",
                "hparams": {},
                "scope": "global",
                "at": "final",
                "exclude": [],
                "steps": 1,
                "step_schedule": "exponential",
                "seed": 0,
                "scoring": {"examples": 10, "batch_size": 10, "seed": 0},
            }
        },
        "branches": {"f": {"type": "finetune", "train": {}, "optimizer_state": "fresh", "seed_offset": 0}},
        "experiments": {
            "imp": {"dense": ["d"], "iterative": {"pruning": "m", "rate": 0.2, "levels": 2, "branch": "f"}}
        },
    }
    from prunelab.config.validation import validate_config

    plan = build_plan(validate_config(config))
    dense = [s for s in plan.specs.values() if s["kind"] == "dense"]
    assert len(dense) == 1 and len(plan.specs) == 5  # dense, then prune → branch twice (level 2 from a branch)
    for spec in plan.specs.values():
        assert dense_spec_of(spec, plan.specs) is dense[0]


def test_gpu_training_estimate_follows_the_cost_model():
    """LeNet-300-100 on MNIST, 1 epoch at batch 100 on a GPU: 600 steps, then one evaluation of 10,000."""
    spec = {
        "kind": "dense",
        "dataset": {"name": "mnist"},
        "model": {"name": "lenet_300_100"},
        "train": {"epochs": 1, "batch_size": 100},
    }
    macs = 784 * 300 + 300 * 100 + 100 * 10
    step = 3 * 100 * macs / GPU_MACS_PER_SECOND + 3 * 3 * GPU_SECONDS_PER_LAYER
    expected = STARTUP_SECONDS + 600 * step + 10000 * macs / GPU_MACS_PER_SECOND
    request = estimate(spec, spec, gpu=True)
    assert request.seconds == pytest.approx(expected)
    assert request.runtime == max(MIN_RUNTIME_MINUTES, math.ceil(SAFETY * expected / 60))
    assert (request.gpu, request.threads, request.packable) == (1, GPU_THREADS, True)


def test_big_runs_are_not_packed_and_get_more_cpu_threads():
    spec = {
        "kind": "dense",
        "dataset": {"name": "cifar10"},
        "model": {"name": "resnet56"},
        "train": {"epochs": 160, "batch_size": 128},
    }
    cpu, gpu = estimate(spec, spec, gpu=False), estimate(spec, spec, gpu=True)
    assert not cpu.packable and not gpu.packable
    assert (cpu.threads, cpu.gpu, gpu.threads, gpu.gpu) == (CPU_THREADS, 0, GPU_THREADS, 1)
    assert cpu.runtime > 20 * gpu.runtime and cpu.mem_mb > gpu.mem_mb  # CPU also holds the activations


def test_retries_double_the_wall_time_and_add_half_the_memory():
    spec = {
        "kind": "dense",
        "dataset": {"name": "cifar10"},
        "model": {"name": "vgg16"},
        "train": {"epochs": 10, "batch_size": 128},
    }
    first, second, third = (estimate(spec, spec, gpu=True, attempt=a) for a in (1, 2, 3))
    assert (second.runtime, third.runtime) == (2 * first.runtime, 4 * first.runtime)
    assert first.mem_mb < second.mem_mb < third.mem_mb
    assert third.mem_mb >= 2 * first.mem_mb - 256  # base + 2 × base/2, rounded to 256 MB steps


def test_a_seed_group_asks_for_its_members_together():
    """K members in one job: wall time bounded by their sum (sequential fallback), K models in memory."""
    spec = {
        "kind": "dense",
        "dataset": {"name": "cifar10"},
        "model": {"name": "resnet20"},
        "train": {"epochs": 10, "batch_size": 128},
    }
    one = estimate(spec, spec, gpu=True)
    group = group_request([one] * 4)
    assert group.runtime == 4 * one.runtime and (group.gpu, group.threads) == (1, one.threads)
    assert group.seconds == pytest.approx(STARTUP_SECONDS + 4 * (one.seconds - STARTUP_SECONDS))
    assert group.mem_mb >= BASE_MEM_MB + 4 * (one.mem_mb - BASE_MEM_MB) and group.mem_mb % 256 == 0
    assert not group.packable
    retried = group_request([estimate(spec, spec, gpu=True, attempt=2)] * 4)
    assert retried.runtime == 2 * group.runtime


def test_prune_cost_grows_with_scoring_examples_and_steps():
    dense = {
        "kind": "dense",
        "dataset": {"name": "cifar10"},
        "model": {"name": "resnet20"},
        "train": {"epochs": 1, "batch_size": 128},
    }
    base = {"kind": "prune", "parents": {"source": "dense/x"}, "steps": 1, "scoring": None}
    data = {**base, "scoring": {"examples": 1000, "batch_size": 100}}
    multi = {**data, "steps": 5}
    seconds = [estimate(s, dense, gpu=True).seconds for s in (base, data, multi)]
    assert seconds[0] < seconds[1] < seconds[2]
    assert seconds[2] - seconds[0] == pytest.approx(5 * (seconds[1] - seconds[0]))


def test_gpu_is_requested_for_cuda_and_for_auto_on_a_cluster_only():
    assert [wants_gpu(d, c) for d in ("cpu", "auto", "cuda") for c in (False, True)] == [
        False,
        False,
        False,
        True,
        True,
        True,
    ]


def test_the_estimator_does_not_import_torch():
    """The Snakefile is parsed on login nodes and in every job; the estimate must stay cheap to import."""
    code = "import sys, prunelab.plan.resources; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
