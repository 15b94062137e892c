"""SNIP (docs/methods.md §5 oracle 12) and GraSP (oracle 13) against explicit references on tiny float64 MLPs."""

import math

import pytest
import torch
import torch.nn.functional as F
from toy import context, mlp, toy_data

from prunelab.errors import ConfigError
from prunelab.pruning import resolve_hparams
from prunelab.pruning.grasp import class_balanced_sample, halves, hessian_gradient_product
from prunelab.pruning.multistep import run_method
from prunelab.pruning.select import prune_count
from prunelab.pruning.snip import connection_sensitivity, normalise
from prunelab.pruning.snip import score as snip_score


def batches(n=2, size=7, inputs=5, classes=3, seed=1):
    gen = torch.Generator().manual_seed(seed)
    return [
        (
            torch.randn(size, inputs, generator=gen, dtype=torch.float64),
            torch.randint(0, classes, (size,), generator=gen),
        )
        for _ in range(n)
    ]


def explicit_forward(layers, scales, x):
    """The MLP written out by hand with every weight multiplied by its gate c."""
    (w1, b1), (w2, b2) = layers
    return F.linear(torch.tanh(F.linear(x, scales[0] * w1, b1)), scales[1] * w2, b2)


def test_snip_equals_gradient_of_explicit_gates():
    model = mlp()
    data = batches()
    layers = [
        (model.net[1].weight.detach(), model.net[1].bias.detach()),
        (model.net[3].weight.detach(), model.net[3].bias.detach()),
    ]
    gates = [torch.ones_like(w, requires_grad=True) for w, _ in layers]
    loss = sum(F.cross_entropy(explicit_forward(layers, gates, x), y) for x, y in data)
    reference = [g.abs() for g in torch.autograd.grad(loss, gates)]

    scores = snip_score(context(model, batches=data))
    total = sum(float(r.sum()) for r in reference)
    for got, ref in zip(scores.values(), reference):
        torch.testing.assert_close(got, ref / total, rtol=1e-12, atol=0)
    assert math.isclose(sum(float(s.sum()) for s in scores.values()), 1.0, rel_tol=1e-12)


def test_snip_accumulates_the_gradient_before_abs():
    model = mlp()
    data = batches()
    params = dict(model.named_parameters())
    weights = {n: p for n, p in params.items() if n.endswith("weight")}
    summed = connection_sensitivity(model, weights, data)
    per_batch = [connection_sensitivity(model, weights, [b]) for b in data]
    differs = any(not torch.allclose(summed[n], per_batch[0][n] + per_batch[1][n]) for n in weights)
    assert differs, "gradients of the two batches should partly cancel before abs"


def test_snip_ranking_is_invariant_to_loss_scaling():
    model = mlp()
    data = batches()
    weights = {n: p for n, p in model.named_parameters() if n.endswith("weight")}
    plain = normalise(connection_sensitivity(model, weights, data))
    scaled = normalise(connection_sensitivity(model, weights, data, lambda z, y: 7.25 * F.cross_entropy(z, y)))
    flat = torch.cat([s.flatten() for s in plain.values()])
    flat_scaled = torch.cat([s.flatten() for s in scaled.values()])
    torch.testing.assert_close(flat, flat_scaled, rtol=1e-12, atol=0)
    assert torch.equal(torch.sort(flat, stable=True).indices, torch.sort(flat_scaled, stable=True).indices)


def test_snip_needs_batches():
    with pytest.raises(ConfigError, match="snip"):
        snip_score(context(mlp()))


@pytest.mark.parametrize("temperature", [1.0, 200.0])
def test_grasp_hg_equals_explicit_hessian_times_gradient(temperature):
    model = mlp()
    parts = halves(*[torch.cat(t) for t in zip(*batches(2, 6))])
    w1, b1, w2, b2 = (
        model.net[1].weight.detach(),
        model.net[1].bias.detach(),
        model.net[3].weight.detach(),
        model.net[3].bias.detach(),
    )
    split = w1.numel()

    def loss(theta):
        a, b = theta[:split].view_as(w1), theta[split:].view_as(w2)
        return sum(
            F.cross_entropy(explicit_forward([(a, b1), (b, b2)], [1.0, 1.0], x) / temperature, y) for x, y in parts
        )

    theta = torch.cat([w1.flatten(), w2.flatten()])
    hessian = torch.autograd.functional.hessian(loss, theta)
    grad = torch.autograd.functional.jacobian(loss, theta)
    reference = hessian @ grad

    weights = {"net.1.weight": model.net[1].weight, "net.3.weight": model.net[3].weight}
    g, hg = hessian_gradient_product(model, weights, parts, temperature)
    got = torch.cat([hg["net.1.weight"].flatten(), hg["net.3.weight"].flatten()])
    torch.testing.assert_close(torch.cat([t.flatten() for t in g.values()]), grad, rtol=1e-10, atol=0)
    torch.testing.assert_close(got, reference, rtol=1e-8, atol=1e-8 * float(reference.abs().max()))


def explicit_grasp_criterion(model, data, per_class, seed, temperature):
    """−θ⊙Hg from the explicit Hessian, on the sample GraSP draws for ``seed`` (reinit off)."""
    x, y = class_balanced_sample(data, per_class, torch.Generator().manual_seed(seed))
    parts = halves(x, y)
    w1, b1, w2, b2 = (
        model.net[1].weight.detach(),
        model.net[1].bias.detach(),
        model.net[3].weight.detach(),
        model.net[3].bias.detach(),
    )
    split = w1.numel()

    def loss(theta):
        a, b = theta[:split].view_as(w1), theta[split:].view_as(w2)
        return sum(
            F.cross_entropy(explicit_forward([(a, b1), (b, b2)], [1.0, 1.0], xb) / temperature, yb) for xb, yb in parts
        )

    theta = torch.cat([w1.flatten(), w2.flatten()])
    hg = torch.autograd.functional.hessian(loss, theta) @ torch.autograd.functional.jacobian(loss, theta)
    return -theta * hg


@pytest.mark.parametrize("sparsity", [0.3, 0.75])
def test_grasp_removes_exactly_k_with_the_largest_minus_theta_hg(sparsity):
    model, data = mlp(), toy_data()
    hp = resolve_hparams("grasp", {"samples_per_class": 4, "reinit": False, "temperature": 2.0})
    outcome = run_method(model, "grasp", hp, sparsity, data=data, seed=5)
    removed = torch.cat([~m.flatten() for m in outcome.mask.values()])
    k = prune_count(sparsity, removed.numel())
    assert int(removed.sum()) == k
    criterion = explicit_grasp_criterion(model, data, 4, 5, 2.0)
    assert float(criterion[removed].min()) >= float(criterion[~removed].max()) - 1e-12


def test_grasp_sample_is_class_balanced_and_seeded():
    data = toy_data(n_train=90)
    x, y = class_balanced_sample(data, 5, torch.Generator().manual_seed(0))
    assert torch.bincount(y, minlength=3).tolist() == [5, 5, 5]
    assert torch.equal(y, torch.sort(y, stable=True).values)  # grouped by class, as GraSP concatenates them
    x2, _ = class_balanced_sample(data, 5, torch.Generator().manual_seed(0))
    assert torch.equal(x, x2)


def test_grasp_reinit_changes_the_scores_but_not_the_model():
    model, data = mlp(), toy_data()
    from prunelab.pruning.grasp import score

    before = {k: v.clone() for k, v in model.state_dict().items()}
    plain = score(context(model, data=data, seed=3), temperature=200.0, samples_per_class=3, reinit=False)
    fresh = score(context(model, data=data, seed=3), temperature=200.0, samples_per_class=3, reinit=True)
    again = score(context(model, data=data, seed=3), temperature=200.0, samples_per_class=3, reinit=True)
    assert not torch.allclose(plain["net.3.weight"], fresh["net.3.weight"])
    for n in fresh:
        assert torch.equal(fresh[n], again[n])
    for k, v in model.state_dict().items():
        assert torch.equal(v, before[k])


@pytest.mark.parametrize("hp", [{"temperature": 0}, {"samples_per_class": 0}, {"reinit": "yes"}])
def test_grasp_rejects_bad_hparams(hp):
    with pytest.raises(ConfigError, match=r"config key hparams\.\w+: .* \(method 'grasp'\)$"):
        resolve_hparams("grasp", hp)
