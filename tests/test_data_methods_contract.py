"""Contract of the data-driven methods (docs/methods.md §5 oracle 3 and §1.3): they leave the model untouched,
repeat themselves for a seed, and give the exact pruned count through ``run_method`` on LeNet-300-100."""

import hashlib

import pytest
import torch
from torch import nn
from toy import context

from prunelab.models import build_model
from prunelab.pruning.base import get_method, resolve_hparams, split_hparams
from prunelab.pruning.l1_filter import units_to_prune
from prunelab.pruning.multistep import run_method, scoring_batches
from prunelab.pruning.select import prune_count
from prunelab.training.masks import Mask, prunable_parameters

DATA_METHODS = ["snip", "grasp", "sipp_det", "sipp_rand", "sipp_hybrid"]


def state_hash(model: nn.Module) -> str:
    digest = hashlib.sha256()
    for name, value in model.state_dict().items():
        digest.update(name.encode())
        digest.update(value.detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()


@pytest.fixture(scope="module")
def digits8():
    from prunelab.data.tensors import load_dataset

    return load_dataset({"name": "digits", "size": 8, "channels": 1, "validation": 100})


def conv_bn_net():
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(1, 4, 3), nn.BatchNorm2d(4), nn.ReLU(), nn.Flatten(), nn.Linear(144, 10))


def run_once(name, model, data, at_init):
    method = get_method(name)
    ctx = context(model, sparsity=0.6, seed=11, data=data, batches=scoring_batches(data, 40, 20, 0), at_init=at_init)
    hp, _ = split_hparams(resolve_hparams(name, {"samples_per_class": 2} if name == "grasp" else {}))
    if method.score is not None:
        return method.score(ctx, **hp), None
    mask, updates = method.prune(ctx, **hp)
    return mask, updates


@pytest.mark.parametrize("at_init", [True, False])
@pytest.mark.parametrize("name", DATA_METHODS + ["l1_filter"])
def test_methods_are_pure_and_repeatable(name, at_init, digits8):
    model = conv_bn_net()
    with torch.no_grad():
        model[0].weight[0, 0, 0, 0] = 0.0  # a pruned-looking zero must not upset anything
    model.train(not at_init)  # methods must also leave the train/eval flag alone
    before, mode = state_hash(model), model.training
    first = run_once(name, model, digits8, at_init)
    assert state_hash(model) == before and model.training == mode
    second = run_once(name, model, digits8, at_init)
    for a, b in zip(first, second):
        if a is not None:
            assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


@pytest.mark.parametrize("name", DATA_METHODS)
@pytest.mark.parametrize("scope", ["global", "layerwise"])
def test_exact_counts_on_lenet_300_100(name, scope, digits28):
    model = build_model({"name": "lenet_300_100"}, digits28.input_shape, digits28.num_classes, seed=0)
    batches = scoring_batches(digits28, 100, 100, 0)
    outcome = run_method(
        model,
        name,
        resolve_hparams(name, {}),
        0.9,
        scope=scope,
        data=digits28,
        batches=batches,
        seed=1,
        at_init=name in ("snip", "grasp"),
    )
    mask = outcome.mask
    if scope == "global":
        assert mask.total - mask.kept == prune_count(0.9, mask.total)
    else:
        assert all(m.numel() - int(m.sum()) == prune_count(0.9, m.numel()) for m in mask.values())
    for name_, p in prunable_parameters(outcome.model).items():
        assert bool((p.detach()[~mask[name_]] == 0).all())


def test_l1_filter_exact_count_on_lenet_300_100(digits28):
    model = build_model({"name": "lenet_300_100"}, digits28.input_shape, digits28.num_classes, seed=0)
    outcome = run_method(model, "l1_filter", resolve_hparams("l1_filter", {"layers": [1]}), 0.7)
    r1 = units_to_prune(0.7, 100)
    assert outcome.mask.total - outcome.mask.kept == r1 * 300 + r1 * 10


def test_multi_step_sipp_rand_is_nested_on_lenet(digits28):
    model = build_model({"name": "lenet_300_100"}, digits28.input_shape, digits28.num_classes, seed=0)
    first = run_method(model, "sipp_rand", resolve_hparams("sipp_rand", {}), 0.5, data=digits28, seed=1)
    second = run_method(
        model, "sipp_rand", resolve_hparams("sipp_rand", {}), 0.8, data=digits28, seed=1, previous=first.mask
    )
    assert second.mask.total - second.mask.kept == prune_count(0.8, second.mask.total)
    assert all(not (second.mask[n] & ~first.mask[n]).any() for n in first.mask)
    assert isinstance(second.mask, Mask)
