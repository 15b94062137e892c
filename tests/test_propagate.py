"""The propagation step after pruning (prunelab.pruning.propagate; torchprune's default, docs/methods.md §2.9)."""

import hashlib

import pytest
import torch
from toy import mlp, toy_data

from prunelab.pruning import resolve_hparams
from prunelab.pruning.multistep import run_method, scoring_batches
from prunelab.pruning.select import prune_count
from prunelab.pruning.sipp import method as sipp
from prunelab.training.masks import prunable_parameters


def cut_off_neuron():
    """A tanh MLP 5-4-3 whose hidden neuron 0 has the smallest outgoing weights and large incoming ones, and
    eight further weights (of other neurons) below everything else but that column."""
    model = mlp((4,), inputs=5, classes=3, act="tanh")
    first, last = model.net[1], model.net[3]
    with torch.no_grad():
        first.weight.copy_(torch.sign(first.weight) * (1.0 + first.weight.abs()))
        last.weight.copy_(torch.sign(last.weight) * (1.0 + last.weight.abs()))
        first.weight[0] = torch.tensor([2.0, -2.1, 2.2, -2.3, 2.4])
        last.weight[:, 0] = torch.tensor([1e-3, -2e-3, 3e-3])
        small = [(1, 0), (1, 1), (2, 2), (2, 3), (3, 4)]  # incoming weights of neurons 1-3
        for k, (i, j) in enumerate(small):
            first.weight[i, j] = 0.01 * (k + 1) * (-1) ** k
        for k, (i, j) in enumerate([(0, 1), (1, 2), (2, 3)]):  # outgoing weights of neurons 1-3
            last.weight[i, j] = 0.06 + 0.01 * k
    return model, small


def test_a_neuron_whose_outgoing_weights_are_pruned_loses_its_incoming_weights_and_bias():
    model, small = cut_off_neuron()
    data = toy_data(inputs=5, classes=3)
    total = 5 * 4 + 4 * 3
    sparsity = 11 / total  # the 3 outgoing weights of neuron 0 and the 8 small ones
    off = run_method(model, "magnitude", {}, sparsity, data=data, seed=0)
    assert not off.mask["net.3.weight"][:, 0].any() and off.mask["net.1.weight"][0].all()
    assert off.steps[-1].keys().isdisjoint({"propagation"}) and not off.updated

    on = run_method(model, "magnitude", {"propagate": True}, sparsity, data=data, seed=0)
    mask, pruned = on.mask, prunable_parameters(on.model)
    assert not mask["net.1.weight"][0].any()  # incoming weights of neuron 0
    assert float(on.model.net[1].bias[0].detach()) == 0.0  # and its bias
    assert torch.equal(on.model.net[1].bias[1:], model.net[1].bias[1:])
    assert torch.equal(on.model.net[3].bias, model.net[3].bias)
    assert mask.kept == total - prune_count(sparsity, total)  # refilled to exactly the target
    # The five entries refilled are the largest of the eight small weights: the three outgoing ones
    # (0.06-0.08) and the two largest incoming ones (0.04, 0.05); the rest stay pruned.
    assert not mask["net.3.weight"][:, 0].any()
    assert [bool(mask["net.1.weight"][i, j]) for i, j in small] == [False, False, False, True, True]
    assert all(bool(mask["net.3.weight"][i, j]) for i, j in [(0, 1), (1, 2), (2, 3)])
    assert torch.equal(pruned["net.1.weight"][mask["net.1.weight"]], model.net[1].weight.detach()[mask["net.1.weight"]])
    # The budget grows by the next-ranked entries until the count after propagation would exceed the target:
    # five more (neuron 0 still cut off), of which propagation removes none; neuron 0's 5 incoming go.
    assert on.steps[-1]["propagation"] == {
        "added_by_ranking": 5,
        "zeroed_weights": 5,
        "zeroed_other": 1,
        "topped_up": 0,
        "topped_up_inert": 0,
    }
    assert on.updated  # the zeroed bias is in the pruned weights


@pytest.mark.parametrize("method", ["sipp_det", "sipp_rand", "sipp_hybrid", "magnitude", "snip"])
@pytest.mark.parametrize("scope", ["global", "layerwise"])
def test_the_kept_count_after_refill_is_exactly_the_target(method, scope):
    model, data = mlp((8, 6), act="relu"), toy_data()
    outcome = run_method(
        model,
        method,
        {"propagate": True},
        0.7,
        scope=scope,
        steps=2,
        data=data,
        seed=2,
        batches=scoring_batches(data, 20, 10, 0),
    )
    units = [outcome.mask.values()] if scope == "global" else [[m] for m in outcome.mask.values()]
    for unit in units:
        total = sum(m.numel() for m in unit)
        assert sum(int(m.sum()) for m in unit) == total - prune_count(0.7, total)
    assert all("propagation" in step for step in outcome.steps)
    params = prunable_parameters(outcome.model)
    assert all(bool((params[n].detach()[~m] == 0).all()) for n, m in outcome.mask.items())


# sha256 (first 16 hex digits) of the masks prunelab computed before the propagation step existed (commit 253d153),
# mlp((8, 6), relu), toy_data(), sparsity 0.7 in 2 steps, seed 2: propagation off must reproduce them.
BEFORE = {
    ("sipp_det", "global"): "d9e79686a01a2c39",
    ("sipp_det", "layerwise"): "7848becddd83d417",
    ("sipp_rand", "global"): "69d4435db57cbbff",
    ("sipp_rand", "layerwise"): "f514567082d7ace4",
    ("sipp_hybrid", "global"): "044929ab4b83b642",
    ("sipp_hybrid", "layerwise"): "dfae1c68c39df2dc",
}


def mask_hash(mask) -> str:
    digest = hashlib.sha256()
    for m in mask.values():
        digest.update(m.flatten().numpy().tobytes())
    return digest.hexdigest()[:16]


@pytest.mark.parametrize("method,scope", sorted(BEFORE))
def test_propagation_off_gives_the_masks_of_before(method, scope):
    model, data = mlp((8, 6), act="relu"), toy_data()
    off = run_method(model, method, {"propagate": False}, 0.7, scope=scope, steps=2, data=data, seed=2)
    assert mask_hash(off.mask) == BEFORE[method, scope]
    on = run_method(model, method, {}, 0.7, scope=scope, steps=2, data=data, seed=2)
    assert mask_hash(on.mask) != BEFORE[method, scope]  # on by default, and it moves these masks


def test_the_baselines_flag_stays_out_of_their_specs_unless_set():
    for method in ("magnitude", "snip"):
        plain = resolve_hparams(method, {})
        assert "propagate" not in plain
        assert resolve_hparams(method, {"propagate": False}) == plain
        assert resolve_hparams(method, {"propagate": True}) == {**plain, "propagate": True}
    assert resolve_hparams("sipp_det", {})["propagate"] is True


def test_propagation_reuses_the_set_s_sipp_scored_on():
    """magnitude and SiPP-det with the same pruning seed propagate over the same points."""
    from prunelab.pruning import propagate as module

    seen = []
    original = module.summed_gradients

    def spy(model, inputs, labels):
        seen.append((inputs.clone(), labels.clone()))
        return original(model, inputs, labels)

    model, data = mlp((8, 6), act="relu"), toy_data()
    module.summed_gradients = spy
    try:
        run_method(model, "sipp_det", {}, 0.7, data=data, seed=5)
        run_method(model, "magnitude", {"propagate": True}, 0.7, data=data, seed=5)
    finally:
        module.summed_gradients = original
    x, y = seen[0]
    assert len(seen) > 2 and len(x) == 10
    assert all(torch.equal(x, x2) and torch.equal(y, y2) for x2, y2 in seen)


# torchprune @ 14b392c (lucaslie/torchprune), run once by hand: ThresNet (WT) and SiPPNet (det) on
# mlp(widths, inputs=5, classes=3, relu, seed) in float32, toy_data(n_val=40, seed) in float32, S = the 20 points
# draw_sample_set draws with pruning seed 3 (served in batches of 4), compress(keep ratio) at sparsity 0.7, which
# CompressedNet's search ends at `kept` weights (with propagation, as always there). Given that count, prunelab
# must choose the same mask (sha256 of the bool bytes in parameter order, 16 hex digits) and zero as many biases.
TORCHPRUNE = [  # (widths, seed, method, kept, mask hash, biases zeroed)
    ((10, 8), 1, "magnitude", 52, "2debfe598ec7f5e8", 4),
    ((10, 8), 1, "sipp_det", 53, "5b54b198ebf4a373", 7),
    ((12,), 2, "magnitude", 33, "a37b245c705825e4", 3),
    ((12,), 2, "sipp_det", 37, "3f2d4bbabe4ba430", 6),
]


@pytest.mark.parametrize("widths,seed,method,kept,expected,biases", TORCHPRUNE)
def test_torchprunes_masks_after_propagation_are_reproduced(widths, seed, method, kept, expected, biases):
    model, data = mlp(widths, inputs=5, classes=3, act="relu", seed=seed).float(), toy_data(n_val=40, seed=seed)
    for split in ("train_x", "val_x", "test_x"):
        setattr(data, split, getattr(data, split).float())
    total = sum(p.numel() for p in prunable_parameters(model).values())
    outcome = run_method(model, method, {"propagate": True}, (total - kept) / total, data=data, seed=3)
    assert outcome.mask.kept == kept
    assert mask_hash(outcome.mask) == expected
    zero_biases = sum(int((p.detach() == 0).sum()) for n, p in outcome.model.named_parameters() if n.endswith("bias"))
    assert zero_biases == biases


@pytest.mark.parametrize("method", ["sipp_rand", "sipp_hybrid"])
def test_rand_and_hybrid_resample_at_a_larger_budget_until_the_count_after_propagation_is_the_target(
    method, monkeypatch
):
    """torchprune's search re-samples at each candidate budget and propagates: with propagation the sampler ends
    on a larger budget than without, and here its sample, propagated, is exactly the target (no ŝ refill)."""
    budgets = []
    evaluate = sipp._evaluate
    monkeypatch.setattr(
        sipp, "_evaluate", lambda layers, budget, *rest: budgets.append(budget) or evaluate(layers, budget, *rest)
    )
    model, data = mlp((8, 6), act="relu"), toy_data()
    run_method(model, method, {"propagate": False}, 0.7, data=data, seed=2)
    last_off = budgets[-1]
    budgets.clear()
    on = run_method(model, method, {"propagate": True}, 0.7, data=data, seed=2)
    assert budgets[-1] > last_off
    assert on.mask.kept == on.mask.total - prune_count(0.7, on.mask.total)
    counts = on.steps[-1]["propagation"]
    assert counts["added_by_ranking"] == 0 and counts["topped_up"] == 0 and counts["zeroed_weights"] > 0
