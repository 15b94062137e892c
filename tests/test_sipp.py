"""SiPP oracles (docs/methods.md §5 oracle 14): sensitivities, |S|, allocation, sampling, selection, exact counts."""

import copy
import itertools
import math

import numpy as np
import pytest
import torch
from torch import nn
from toy import mlp, toy_data

from prunelab.errors import ConfigError
from prunelab.models import build_model
from prunelab.pruning import resolve_hparams
from prunelab.pruning.multistep import run_method
from prunelab.pruning.select import exact_count, prune_count
from prunelab.pruning.sipp.allocation import allocate, error_bound
from prunelab.pruning.sipp.method import SideGroups
from prunelab.pruning.sipp.sampling import SAMPLE, SUPPORT, draw_counts, expected_unique, sample_reweighted
from prunelab.pruning.sipp.sensitivity import (
    LayerShape,
    draw_sample_set,
    empirical_sensitivity,
    layer_shapes,
    prunable_modules,
    sample_set_size,
)
from prunelab.training.masks import prunable_parameters


def linear_layer(rows=4, cols=6, seed=0):
    torch.manual_seed(seed)
    return nn.Linear(cols, rows).double()


def sens_of(model, inputs, reduce="max"):
    names = [n for n, _ in model.named_parameters() if n.endswith("weight")]
    return empirical_sensitivity(model, prunable_modules(model, names), inputs, reduce)


def side_sums(weight, sens):
    return (sens * (weight > 0)).sum(1), (sens * (weight < 0)).sum(1)


def tiny_conv(seed=0):
    torch.manual_seed(seed)
    return nn.Sequential(
        nn.Conv2d(2, 3, 3, padding=1),
        nn.ReLU(),
        nn.Conv2d(3, 4, 2, stride=2),
        nn.Tanh(),
        nn.Flatten(),
        nn.Linear(16, 3),
    ).double()


@pytest.mark.parametrize("reduce", ["max", "mean"])
def test_sensitivities_lie_in_unit_interval(reduce):
    gen = torch.Generator().manual_seed(0)
    for model, x in (
        (mlp((6, 5)), torch.randn(9, 5, generator=gen, dtype=torch.float64)),
        (tiny_conv(), torch.randn(5, 2, 4, 4, generator=gen, dtype=torch.float64)),
    ):
        for s in sens_of(model, x, reduce).values():
            assert float(s.min()) >= 0.0 and float(s.max()) <= 1.0
            assert float(s.max()) > 0.0


def test_one_positive_point_gives_side_sums_of_one():
    layer = linear_layer()
    a = torch.rand(1, 6, dtype=torch.float64) + 0.1
    sens = sens_of(layer, a)["weight"]
    plus, minus = side_sums(layer.weight.detach(), sens)
    has_plus, has_minus = (layer.weight > 0).any(1), (layer.weight < 0).any(1)
    torch.testing.assert_close(plus[has_plus], torch.ones(int(has_plus.sum()), dtype=torch.float64), rtol=0, atol=1e-12)
    torch.testing.assert_close(
        minus[has_minus], torch.ones(int(has_minus.sum()), dtype=torch.float64), rtol=0, atol=1e-12
    )


def test_several_points_give_side_sums_between_one_and_the_set_size():
    layer = linear_layer(5, 7)
    points = torch.rand(4, 7, dtype=torch.float64, generator=torch.Generator().manual_seed(3)) + 0.05
    sens = sens_of(layer, points)["weight"]
    for side in side_sums(layer.weight.detach(), sens):
        assert float(side.min()) >= 1.0 - 1e-12 and float(side.max()) <= 4.0 + 1e-12
        assert float(side.max()) > 1.0 + 1e-6  # the max over points really differs from one point


@pytest.mark.parametrize("reduce", ["max", "mean"])
def test_sensitivity_invariant_to_positive_row_and_input_scaling(reduce):
    gen = torch.Generator().manual_seed(1)
    for layer, x in (
        (linear_layer(), torch.randn(3, 6, generator=gen, dtype=torch.float64)),
        (nn.Conv2d(2, 3, 2).double(), torch.randn(3, 2, 4, 4, generator=gen, dtype=torch.float64)),
    ):
        base = sens_of(layer, x, reduce)["weight"]
        rows = torch.rand(layer.weight.shape[0], generator=gen, dtype=torch.float64) * 5 + 0.1
        scaled = copy.deepcopy(layer)
        with torch.no_grad():
            scaled.weight.mul_(rows.view(-1, *([1] * (layer.weight.dim() - 1))))
        torch.testing.assert_close(sens_of(scaled, x, reduce)["weight"], base, rtol=1e-10, atol=1e-12)
        torch.testing.assert_close(sens_of(layer, 3.7 * x, reduce)["weight"], base, rtol=1e-10, atol=1e-12)


def test_negative_inputs_are_split_into_two_points():
    layer = linear_layer()
    a = torch.randn(1, 6, dtype=torch.float64, generator=torch.Generator().manual_seed(2))
    both = sens_of(layer, torch.cat([a.clamp_min(0), (-a).clamp_min(0)]))["weight"]
    torch.testing.assert_close(sens_of(layer, a)["weight"], both, rtol=0, atol=0)


def test_conv_sensitivity_equals_explicit_patch_loop():
    conv = nn.Conv2d(2, 3, 2, stride=1, padding=1).double()
    x = torch.rand(1, 2, 3, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(4))
    w = conv.weight.detach().reshape(3, -1)
    patches = torch.nn.functional.unfold(x, 2, padding=1)[0]  # (K, P)
    explicit = torch.zeros(3, w.shape[1], patches.shape[1], dtype=torch.float64)
    for i, k, p in itertools.product(range(3), range(w.shape[1]), range(patches.shape[1])):
        side = w[i] > 0 if w[i, k] > 0 else w[i] < 0
        z = float((w[i][side] * patches[side, p]).sum())
        explicit[i, k, p] = w[i, k] * patches[k, p] / z if abs(z) > 1.1920929e-07 else 0.0
    for reduce, ref in (("max", explicit.amax(-1)), ("mean", explicit.mean(-1))):
        torch.testing.assert_close(sens_of(conv, x, reduce)["weight"].reshape(3, -1), ref, rtol=1e-12, atol=1e-14)


def test_sample_set_size_of_lenet_300_100_is_152():
    model = build_model({"name": "lenet_300_100"}, (1, 28, 28), 10, seed=0)
    names = list(prunable_parameters(model))
    shapes = layer_shapes(model, prunable_modules(model, names), (1, 28, 28))
    assert [s.outputs for s in shapes.values()] == [300, 100, 10]
    assert sample_set_size([s.outputs for s in shapes.values()], 3.0, 1e-16) == 152


def test_conv_output_counts_are_feature_map_sizes():
    model = tiny_conv()
    names = [n for n, _ in model.named_parameters() if n.endswith("weight")]
    shapes = layer_shapes(model, prunable_modules(model, names), (2, 4, 4))
    assert shapes["0.weight"] == LayerShape(neurons=3, patches=16, kernel=9, outputs=48)
    assert shapes["2.weight"] == LayerShape(neurons=4, patches=4, kernel=4, outputs=16)
    assert shapes["5.weight"] == LayerShape(neurons=3, patches=1, kernel=1, outputs=3)


def test_sample_set_is_capped_at_half_the_validation_split_and_falls_back_to_train():
    data = toy_data(n_val=20)
    x, y = draw_sample_set(data, 152, torch.Generator().manual_seed(0))
    assert len(x) == len(y) == 10
    x, y = draw_sample_set(data, 4, torch.Generator().manual_seed(0))
    assert any(torch.equal(x[0], v) and y[0] == w for v, w in zip(data.val_x, data.val_y))
    data.val_x, data.val_y = data.val_x[:0], data.val_y[:0]
    x, _ = draw_sample_set(data, 4, torch.Generator().manual_seed(0))
    assert len(x) == 4 and any(torch.equal(x[0], v) for v in data.train_x)


def brute_force(alpha, weight, cap, budget, steps):
    """Minimise Σ w ε(m; α) over a grid with Σ m = budget (the last group takes the rest)."""
    grids = [np.linspace(1e-9, min(c, budget), steps) for c in cap[:-1]]
    mesh = np.stack(np.meshgrid(*grids, indexing="ij"), -1)
    rest = budget - mesh.sum(-1)
    points = np.concatenate([mesh, rest[..., None]], -1)
    feasible = (rest > 0) & (rest <= cap[-1])
    values = np.where(feasible, (weight * error_bound(np.where(points > 0, points, 1.0), alpha)).sum(-1), np.inf)
    best = np.unravel_index(np.argmin(values), values.shape)
    return points[best], values[best]


@pytest.mark.parametrize("groups,seed,steps", [(2, 0, 20001), (3, 1, 1201), (3, 2, 1201), (4, 3, 121)])
def test_allocation_matches_brute_force(groups, seed, steps):
    rng = np.random.default_rng(seed)
    alpha, weight = rng.uniform(0.5, 40, groups), rng.uniform(0.1, 1.0, groups)
    cap = rng.integers(5, 40, groups).astype(float)
    cap[0] = 3.0  # one cap binds
    budget = 0.6 * cap.sum()
    m = allocate(alpha, weight, cap, budget)
    ref, ref_value = brute_force(alpha, weight, cap, budget, steps)
    value = float((weight * error_bound(m, alpha)).sum())
    assert m.sum() <= budget + 1e-9 and (m <= cap + 1e-12).all() and (m >= 0).all()
    assert value <= ref_value + 1e-12  # never worse than the best grid point
    spacing = max(cap) / (steps - 1)
    assert np.abs(m - ref).max() <= 2 * groups * spacing  # and the grid optimum is next to it


def test_allocation_keeps_everything_when_the_budget_allows():
    m = allocate(np.array([1.0, 2.0, 0.0]), np.ones(3), np.array([3.0, 4.0, 5.0]), 100.0)
    assert m.tolist() == [3.0, 4.0, 0.0]


def test_draw_count_is_the_smallest_reaching_the_target():
    gen = torch.Generator().manual_seed(0)
    probs = torch.rand(6, 9, generator=gen, dtype=torch.float64) ** 3
    probs[2, 4:] = 0.0
    probs /= probs.sum(1, keepdim=True)
    unique = torch.tensor([1, 3, 5, 8, 9, 0])
    draws, mode = draw_counts(probs, unique)
    assert mode.tolist() == [SAMPLE, SAMPLE, SUPPORT, SUPPORT, SUPPORT, 0]
    for r in (0, 1):
        assert float(expected_unique(probs[r : r + 1], draws[r : r + 1])) >= int(unique[r])
        if draws[r] > 1:
            assert float(expected_unique(probs[r : r + 1], draws[r : r + 1] - 1)) < int(unique[r])
    # row 3: even 16 draws per weight would not reach 8 distinct survivors, so it keeps its support
    assert float(expected_unique(probs[3:4], torch.tensor([16 * 9]))) < 8


def test_reweighted_sampling_is_unbiased():
    gen = torch.Generator().manual_seed(7)
    weight = torch.randn(1, 8, generator=gen, dtype=torch.float64)
    sens = torch.rand(1, 8, generator=gen, dtype=torch.float64) + 0.05
    probs = sens / sens.sum()
    a = torch.rand(8, generator=gen, dtype=torch.float64)
    draws = torch.tensor([3])
    outputs = torch.stack(
        [sample_reweighted(weight, probs, draws, torch.Generator().manual_seed(s))[0] @ a for s in range(10_000)]
    )
    exact = float(weight[0] @ a)
    standard_error = float(outputs.std()) / math.sqrt(len(outputs))
    assert abs(float(outputs.mean()) - exact) <= 4 * standard_error
    assert float(outputs.std()) > 0


def test_hybrid_keeps_the_top_m_where_its_error_bound_is_lower():
    k = 3000
    peaked = torch.cat([torch.tensor([0.95]), torch.full((k - 1,), 0.05 / (k - 1))])
    flat = torch.full((k,), 1.0 / k)
    sens = torch.stack([peaked, flat]).double()
    weight = torch.rand(2, k, dtype=torch.float64, generator=torch.Generator().manual_seed(0)) + 0.1
    groups = SideGroups.build(weight, sens, LayerShape(neurons=2, patches=1, kernel=1, outputs=2), 3.0, 1e-16)
    m = torch.tensor([1, 2000, 0, 0])
    det_error = 3.0 * np.array([0.05, 1000 / k])
    rand_error = error_bound(np.array([1.0, 2000.0]), groups.alpha[:2])
    assert det_error[0] <= rand_error[0] and det_error[1] > rand_error[1]

    keep, new = groups.realise(m, True, 3.0, torch.Generator().manual_seed(0))
    keep, new = keep.view(2, k), new.view(2, k)
    assert keep[0].nonzero().flatten().tolist() == [0]  # peaked neuron: deterministic top-1, unchanged
    assert new[0, 0] == weight[0, 0] and int((new[0] != 0).sum()) == 1
    survivors = keep[1]  # flat neuron: sampled, W·count/(m′p)
    draws, _ = draw_counts(sens[1:] / sens[1].sum(), torch.tensor([2000]))
    ratio = new[1][survivors] / weight[1][survivors]
    torch.testing.assert_close(ratio * int(draws) / k, ratio.mul(int(draws) / k).round(), rtol=0, atol=1e-9)
    assert abs(int(survivors.sum()) - 2000) < 100


def test_exact_count_trims_and_adds_by_sensitivity():
    sens = torch.tensor([0.5, 0.1, 0.1, 0.9, 0.0, 0.3], dtype=torch.float64)
    keep = torch.tensor([True, True, True, True, False, False])
    weight = torch.tensor([1.0, 2.0, 3.0, 4.0, 0.0, 0.0], dtype=torch.float64)
    original = torch.tensor([1.5, 2.5, 3.5, 4.5, 5.5, 6.5], dtype=torch.float64)
    allowed = torch.ones(6, dtype=torch.bool)
    k, w = exact_count(keep, weight, original, sens, allowed, 2)
    assert k.tolist() == [True, False, False, True, False, False] and w.tolist() == [1, 0, 0, 4, 0, 0]
    k, w = exact_count(keep, weight, original, sens, allowed, 5)
    assert k.tolist() == [True, True, True, True, False, True] and w[5] == 6.5
    allowed[5] = False
    k, _ = exact_count(keep, weight, original, sens, allowed, 5)
    assert k.tolist() == [True, True, True, True, True, False]


def positive_data(inputs=12):
    data = toy_data(inputs=inputs)
    for split in ("train_x", "val_x", "test_x"):
        setattr(data, split, getattr(data, split).abs() + 0.05)
    return data


def test_det_selection_is_global_top_k_of_sensitivity():
    model, data = mlp((6,), inputs=12, act="relu"), positive_data()
    hp = resolve_hparams("sipp_det", {"propagate": False})
    outcome = run_method(model, "sipp_det", hp, 0.6, data=data, seed=4)
    names = list(prunable_parameters(model))
    inputs, _ = draw_sample_set(data, 10**6, torch.Generator().manual_seed(4))
    sens = empirical_sensitivity(model, prunable_modules(model, names), inputs, "mean")
    flat = torch.cat([sens[n].flatten() for n in names])
    expected = torch.ones_like(flat, dtype=torch.bool)  # ties: the lower flat index is pruned first
    expected[torch.sort(flat, stable=True).indices[: prune_count(0.6, len(flat))]] = False
    assert torch.equal(torch.cat([outcome.mask[n].flatten() for n in names]), expected)


@pytest.mark.parametrize("method", ["sipp_rand", "sipp_hybrid"])
@pytest.mark.parametrize("scope", ["global", "layerwise"])
def test_sampling_methods_hit_exact_counts_and_stay_nested(method, scope):
    model, data = mlp((8, 6)), toy_data()
    hp = resolve_hparams(method, {})
    outcome = run_method(model, method, hp, 0.7, scope=scope, steps=2, data=data, seed=2)
    mask = outcome.mask
    if scope == "global":
        assert mask.total - mask.kept == prune_count(0.7, mask.total)
    else:
        for m in mask.values():
            assert m.numel() - int(m.sum()) == prune_count(0.7, m.numel())
    first = run_method(model, method, hp, 1 - 0.3**0.5, scope=scope, data=data, seed=2).mask
    params = prunable_parameters(outcome.model)
    for name, m in mask.items():
        assert not (m & ~first[name]).any()
        assert bool((params[name].detach()[~m] == 0).all())
    assert outcome.updated


def test_sampling_methods_refuse_to_revive_pruned_entries():
    model, data = mlp((8,)), toy_data()
    hp = resolve_hparams("sipp_rand", {})
    first = run_method(model, "sipp_rand", hp, 0.6, data=data, seed=0)
    with pytest.raises(ConfigError, match="nested"):
        run_method(model, "sipp_rand", hp, 0.4, data=data, seed=0, previous=first.mask)


def test_sampling_methods_reweight_surviving_weights():
    model, data = mlp((8,)), toy_data()
    outcome = run_method(model, "sipp_rand", resolve_hparams("sipp_rand", {}), 0.5, data=data, seed=0)
    before = prunable_parameters(model)
    after = prunable_parameters(outcome.model)
    changed = sum(int((after[n].detach() != before[n].detach())[outcome.mask[n]].sum()) for n in before)
    assert changed > 0


@pytest.mark.parametrize(
    "hp", [{"c_constant": 0}, {"delta_failure": 1.5}, {"tolerance": -0.1}, {"search_iterations": 0}]
)
def test_sipp_rejects_bad_hparams(hp):
    with pytest.raises(ConfigError, match=r"config key hparams\.\w+: .* \(method 'sipp_rand'\)$"):
        resolve_hparams("sipp_rand", hp)
