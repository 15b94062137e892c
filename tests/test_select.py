"""Selector oracle (docs/methods.md §5 oracle 1) and the magnitude / random baselines (oracles 4, 5)."""

import math

import pytest
import torch
from torch import nn

from prunelab.errors import ConfigError, PrunelabError
from prunelab.pruning.multistep import run_method, step_sparsities
from prunelab.pruning.select import prune_count, select


def scores(seed=0, shapes=((3, 4), (5,), (2, 2, 3))):
    gen = torch.Generator().manual_seed(seed)
    return {f"p{i}": torch.randn(s, generator=gen) for i, s in enumerate(shapes)}


@pytest.mark.parametrize("s", [0.0, 0.5, 0.999, 1.0, 0.37])
def test_global_counts_are_exact(s):
    sc = scores()
    n = sum(t.numel() for t in sc.values())
    mask = select(sc, s)
    assert mask.total - mask.kept == math.floor(s * n + 0.5)


@pytest.mark.parametrize("s", [0.0, 0.5, 0.999, 1.0, 0.37])
def test_layerwise_counts_are_exact_per_tensor(s):
    mask = select(scores(), s, scope="layerwise")
    for m in mask.values():
        assert m.numel() - int(m.sum()) == math.floor(s * m.numel() + 0.5)


def test_ties_are_broken_by_lower_flat_index():
    tied = {"a": torch.zeros(4), "b": torch.zeros(3)}
    mask = select(tied, 3 / 7)
    assert mask["a"].tolist() == [False, False, False, True]
    assert mask["b"].tolist() == [True, True, True]
    mask = select(tied, 5 / 7)
    assert mask["a"].tolist() == [False] * 4 and mask["b"].tolist() == [False, True, True]


def test_nested_masks_never_revive_entries():
    sc = scores()
    first = select(sc, 0.5)
    flipped = {n: -t for n, t in sc.items()}  # the opposite ranking would prefer the pruned entries
    second = select(flipped, 0.7, previous=first)
    for n in first:
        assert not (second[n] & ~first[n]).any()
    assert second.total - second.kept == prune_count(0.7, second.total)
    with pytest.raises(ConfigError, match="nested"):
        select(sc, 0.3, previous=first)


def test_nan_and_posinf_scores_raise():
    for bad in (float("nan"), float("inf")):
        sc = scores()
        sc["p1"][2] = bad
        with pytest.raises(PrunelabError, match="p1"):
            select(sc, 0.5)


def test_magnitude_prunes_exactly_below_the_kth_smallest():
    model = nn.Sequential(nn.Linear(6, 5), nn.ReLU(), nn.Linear(5, 3))
    out = run_method(model, "magnitude", {}, 0.6)
    values = torch.cat([p.detach().abs().flatten() for n, p in model.named_parameters() if n.endswith("weight")])
    k = prune_count(0.6, values.numel())
    tau = values.sort().values[k - 1]
    for name, p in model.named_parameters():
        if name.endswith("weight"):
            assert torch.equal(~out.mask[name], p.detach().abs() <= tau)


def test_magnitude_matches_argsort():
    sc = scores(3)
    flat = torch.cat([t.abs().flatten() for t in sc.values()])
    order = torch.argsort(flat, stable=True)
    mask = select({n: t.abs() for n, t in sc.items()}, 0.5)
    kept = torch.cat([m.flatten() for m in mask.values()])
    assert not kept[order[: prune_count(0.5, flat.numel())]].any()


def test_random_is_seed_stable_and_layerwise_exact():
    model = nn.Sequential(nn.Linear(20, 10), nn.Linear(10, 4))
    a = run_method(model, "random", {}, 0.5, seed=7).mask
    b = run_method(model, "random", {}, 0.5, seed=7).mask
    c = run_method(model, "random", {}, 0.5, seed=8).mask
    assert all(torch.equal(a[n], b[n]) for n in a)
    assert any(not torch.equal(a[n], c[n]) for n in a)
    lw = run_method(model, "random", {}, 0.3, scope="layerwise", seed=1).mask
    for m in lw.values():
        assert m.numel() - int(m.sum()) == prune_count(0.3, m.numel())


def test_random_prune_frequency_is_s_for_every_entry():
    model = nn.Sequential(nn.Linear(5, 4))
    s, trials = 0.3, 2000
    counts = torch.zeros(4, 5)
    for seed in range(trials):
        counts += (~run_method(model, "random", {}, s, seed=seed).mask["0.weight"]).float()
    freq = counts / trials
    sigma = math.sqrt(s * (1 - s) / trials)
    assert (freq - s).abs().max() < 4 * sigma


def test_scorers_do_not_mutate_the_model():
    model = nn.Sequential(nn.Linear(6, 5), nn.Linear(5, 3))
    before = {k: v.clone() for k, v in model.state_dict().items()}
    for method in ("magnitude", "random"):
        run_method(model, method, {}, 0.5)
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())


def test_exponential_schedule_reaches_exact_target_with_nondecreasing_counts():
    steps = step_sparsities(0.956, 14)
    assert steps[-1] == 0.956
    assert all(b >= a for a, b in zip(steps, steps[1:]))
    r = 1 - (1 - 0.956) ** (1 / 14)
    assert steps[0] == pytest.approx(r)
    model = nn.Sequential(nn.Linear(30, 20), nn.Linear(20, 10))
    out = run_method(model, "magnitude", {}, 0.956, steps=14)
    counts = [row["pruned"] for row in out.steps]
    assert counts == sorted(counts) and counts[-1] == prune_count(0.956, 800)
    assert step_sparsities(0.5, 1) == [0.5]
