"""Second-order pruning methods: OBD (oracle 7), LM/QM (8), exact OBS (9), WoodFisher (10), L-OBS (11),
scorer purity (3), refusals and hyperparameter checks, and every method end to end on LeNet-300-100."""

import math

import pytest
import torch
import torch.nn.functional as F
from curvature_references import (
    brute_force_greedy,
    kkt_argmin,
    loop_gradients,
    reference_ggn,
    reference_loss,
    state_hash,
)
from torch import nn
from torch.func import hessian

from prunelab.errors import ConfigError
from prunelab.pruning import curvature as cv
from prunelab.pruning import kkt as obs_algebra
from prunelab.pruning import lm, obd, qm, resolve_hparams
from prunelab.pruning.base import PruneContext, get_method
from prunelab.pruning.multistep import run_method, scoring_batches
from prunelab.pruning.select import prune_count, select
from prunelab.pruning.woodfisher import BlockLayout
from prunelab.training.masks import Mask, prunable_parameters

D = torch.float64


def context(model, batches, sparsity, scope="global", mask=None, seed=0, exclude=(), at_init=False):
    params = prunable_parameters(model, exclude)
    return PruneContext(
        model=model,
        params=params,
        mask=mask or Mask.ones_like(params),
        sparsity=sparsity,
        scope=scope,
        generator=torch.Generator().manual_seed(seed),
        batches=batches,
        at_init=at_init,
    )


def hp(name, **given):
    return resolve_hparams(name, given)


def flat(tensors, names):
    return torch.cat([tensors[n].detach().flatten() for n in names])


def tiny_mlp(seed=0):
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(8, 5), nn.Tanh(), nn.Linear(5, 3)).double()


def tiny_data(n=12, seed=3):
    gen = torch.Generator().manual_seed(seed)
    return torch.randn(n, 8, generator=gen, dtype=D), torch.randint(0, 3, (n,), generator=gen)


# --------------------------------------------------------------------------------------------------
# OBD, LM, QM (oracles 7 and 8)
# --------------------------------------------------------------------------------------------------
def separable_quadratic(seed=0):
    """L(w) = (1/n) Σ ½(wᵀx_i − t_i)² with x_i on coordinate axes: exactly quadratic, diagonal Hessian."""
    gen = torch.Generator().manual_seed(seed)
    d, n = 5, 10
    x = torch.zeros(n, d, dtype=D)
    x[torch.arange(n), torch.arange(n) % d] = 0.5 + torch.rand(n, generator=gen, dtype=D)
    t = torch.randn(n, 1, generator=gen, dtype=D)
    model = nn.Linear(d, 1, bias=False).double()
    with torch.no_grad():
        model.weight.copy_(torch.randn(1, d, generator=gen, dtype=D))
    return model, x, t


def test_obd_saliency_is_the_exact_loss_increase_at_a_minimum():
    model, x, t = separable_quadratic()
    with torch.no_grad():
        model.weight.copy_(torch.linalg.lstsq(x, t).solution.T)  # θ*: the minimum
    fm = cv.FlatModel(model, ["weight"], objective=cv.SQUARED_ERROR)
    assert cv.mean_gradient(fm, [(x, t)]).abs().max() < 1e-12
    h_full = cv.hessian_matrix(fm, [(x, t)])
    assert torch.equal(h_full, torch.diag(torch.diagonal(h_full)))  # D is diagonal
    h = cv.hessian_diagonal(fm, [(x, t)])
    torch.testing.assert_close(cv.ggn_diagonal(fm, [(x, t)]), h, rtol=1e-12, atol=0)
    base = fm.loss(fm.theta, x, t)
    for q in range(fm.size):
        zeroed = fm.theta.clone()
        zeroed[q] = 0
        exact = fm.loss(zeroed, x, t) - base
        torch.testing.assert_close(obd.criterion(fm.theta, h, 0.0)[q], exact, rtol=1e-10, atol=1e-15)


def test_qm_is_the_exact_loss_change_of_a_quadratic_and_lm_of_a_linear_loss():
    model, x, t = separable_quadratic(1)
    fm = cv.FlatModel(model, ["weight"], objective=cv.SQUARED_ERROR)  # away from the minimum: g ≠ 0
    g, h = cv.mean_gradient(fm, [(x, t)]), cv.hessian_diagonal(fm, [(x, t)])
    assert g.abs().min() > 1e-3
    base = fm.loss(fm.theta, x, t)
    for q in range(fm.size):
        step = fm.theta.clone()
        step[q] = 0
        exact = fm.loss(step, x, t) - base
        signed = -g[q] * fm.theta[q] + 0.5 * h[q] * fm.theta[q] ** 2
        torch.testing.assert_close(signed, exact, rtol=1e-10, atol=1e-15)
        torch.testing.assert_close(qm.criterion(fm.theta, g, h, 0.0)[q], exact.abs(), rtol=1e-10, atol=1e-15)
    # a loss linear in θ (D = 0): L = a + bᵀθ, so LM is exact
    a, b = 0.7, torch.randn(6, generator=torch.Generator().manual_seed(2), dtype=D)
    theta = torch.randn(6, generator=torch.Generator().manual_seed(3), dtype=D)

    def loss(th):
        return a + b @ th

    for q in range(6):
        step = theta.clone()
        step[q] = 0
        torch.testing.assert_close(
            lm.criterion(theta, b, 0.0)[q], (loss(step) - loss(theta)).abs(), rtol=1e-12, atol=1e-15
        )


def test_qm_with_zero_gradient_is_obd():
    gen = torch.Generator().manual_seed(4)
    theta, h = torch.randn(20, generator=gen, dtype=D), torch.randn(20, generator=gen, dtype=D)
    for lam in (0.0, 0.3):
        assert torch.equal(qm.criterion(theta, torch.zeros(20, dtype=D), h, lam), obd.criterion(theta, h, lam))


@pytest.mark.parametrize("name,extra", [("lm", {}), ("qm", {}), ("obd", {}), ("obd", {"curvature": "hutchinson"})])
def test_lambda_adds_exactly_half_lambda_theta_squared(name, extra):
    model = tiny_mlp()
    x, y = tiny_data()
    method = get_method(name)
    theta = {n: p.detach().double() for n, p in prunable_parameters(model).items()}
    plain = method.score(context(model, [(x, y)], 0.5), **hp(name, **extra))
    penalised = method.score(context(model, [(x, y)], 0.5), **hp(name, **extra, **{"lambda": 0.3}))
    for n in plain:
        assert torch.equal(penalised[n], plain[n] + 0.5 * 0.3 * theta[n].pow(2))


def test_scores_on_a_network_use_the_mean_gradient_and_the_ggn_diagonal():
    model = tiny_mlp()
    x, y = tiny_data()
    names = list(prunable_parameters(model))
    theta = flat(dict(model.named_parameters()), names)
    g = loop_gradients(model, names, x, y).mean(0)
    h = torch.diagonal(reference_ggn(model, names, x))
    batches = [(x[:5], y[:5]), (x[5:], y[5:])]
    for name, expected in (
        ("lm", (g * theta).abs()),
        ("qm", (-g * theta + 0.5 * h * theta**2).abs()),
        ("obd", (0.5 * h * theta**2).abs()),
    ):
        got = flat(get_method(name).score(context(model, batches, 0.5), **hp(name)), names)
        torch.testing.assert_close(got, expected, rtol=1e-10, atol=1e-15)


@pytest.mark.parametrize("name", ["lm", "qm", "obd"])
def test_one_step_equals_one_shot_and_more_steps_stay_exact_and_nested(name):
    model = tiny_mlp()
    x, y = tiny_data()
    one_shot = select(get_method(name).score(context(model, [(x, y)], 0.6), **hp(name)), 0.6)
    out = run_method(model, name, hp(name), 0.6, batches=[(x, y)], steps=1)
    assert all(torch.equal(out.mask[n], one_shot[n]) for n in one_shot)
    out = run_method(model, name, hp(name), 0.6, batches=[(x, y)], steps=3)
    counts = [row["pruned"] for row in out.steps]
    assert counts == sorted(counts) and counts[-1] == prune_count(0.6, out.mask.total)


# --------------------------------------------------------------------------------------------------
# Exact OBS (oracle 9 on networks)
# --------------------------------------------------------------------------------------------------
def test_obs_predicted_increase_is_the_loss_change_of_the_updated_net_when_the_loss_is_quadratic():
    """Only the last layer is prunable and the loss is squared error, so the loss is exactly quadratic in
    the prunable weights; at their least-squares optimum OBS's ΔL must be the true loss change."""
    model = tiny_mlp(5)
    x, y = tiny_data(20, 6)
    with torch.no_grad():
        features = torch.tanh(model[0](x))
        targets = F.one_hot(y, 3).double() - model[2].bias
        model[2].weight.copy_(torch.linalg.lstsq(features, targets).solution.T)
    fm = cv.FlatModel(model, ["2.weight"], objective=cv.SQUARED_ERROR)
    assert cv.mean_gradient(fm, [(x, y)]).abs().max() < 1e-12
    h_inv = torch.linalg.inv(cv.hessian_matrix(fm, [(x, y)]))
    predicted = obs_algebra.saliency(torch.diagonal(h_inv), fm.theta)
    base = fm.loss(fm.theta, x, y)
    for q in range(fm.size):
        updated = fm.theta + obs_algebra.single_update(h_inv, fm.theta, q)
        updated[q] = 0.0
        torch.testing.assert_close(fm.loss(updated, x, y) - base, predicted[q], rtol=1e-5, atol=1e-12)


def obs_reference(model, x, y, curvature, damp):
    names = list(prunable_parameters(model))
    if curvature == "ggn":
        h = reference_ggn(model, names, x)
    else:
        f, theta = reference_loss(model, names, x, y)
        h = hessian(f)(theta)
    return names, h + damp * torch.eye(len(h), dtype=D)


@pytest.mark.parametrize("scope", ["global", "layerwise"])
@pytest.mark.parametrize("curvature", ["ggn", "hessian"])
def test_greedy_obs_matches_brute_force_greedy_and_ends_at_the_constrained_argmin(scope, curvature):
    model = tiny_mlp(1)
    x, y = tiny_data()
    names, h = obs_reference(model, x, y, curvature, 0.0)
    damp = 0.5 + max(0.0, -float(torch.linalg.eigvalsh(h).min()))  # the Hessian may be indefinite
    h = h + damp * torch.eye(len(h), dtype=D)
    theta = flat(dict(model.named_parameters()), names)
    sizes = [40, 15]
    if scope == "global":
        group, quota = [0] * 55, [prune_count(0.4, 55)]
    else:
        group, quota = [0] * 40 + [1] * 15, [prune_count(0.4, s) for s in sizes]
    removed, expected = brute_force_greedy(h, theta, group, quota)
    out = run_method(model, "obs", hp("obs", curvature=curvature, damp=damp), 0.4, scope=scope, batches=[(x, y)])
    assert sorted(removed) == (~flat(out.mask, names)).nonzero().flatten().tolist()
    torch.testing.assert_close(flat(dict(out.model.named_parameters()), names), expected, rtol=0, atol=1e-9)
    assert out.updated


def test_greedy_obs_keeps_earlier_pruned_weights_out_of_the_problem():
    model = tiny_mlp(2)
    x, y = tiny_data()
    names, h = obs_reference(model, x, y, "ggn", 0.5)
    first = run_method(model, "magnitude", {}, 0.2)
    pruned_before = (~flat(first.mask, names)).nonzero().flatten().tolist()
    theta = flat(dict(first.model.named_parameters()), names)
    names, h = obs_reference(first.model, x, y, "ggn", 0.5)
    removed, expected = brute_force_greedy(
        h, theta, [0] * 55, [prune_count(0.5, 55) - len(pruned_before)], removed=pruned_before
    )
    out = run_method(first.model, "obs", hp("obs", damp=0.5), 0.5, previous=first.mask, batches=[(x, y)])
    assert sorted(removed) == (~flat(out.mask, names)).nonzero().flatten().tolist()
    torch.testing.assert_close(flat(dict(out.model.named_parameters()), names), expected, rtol=0, atol=1e-9)


@pytest.mark.parametrize("update", ["joint", "independent", "none"])
def test_one_shot_obs_ranks_once_and_applies_the_chosen_update(update):
    model = tiny_mlp(3)
    x, y = tiny_data()
    names, h = obs_reference(model, x, y, "ggn", 0.5)
    theta = flat(dict(model.named_parameters()), names)
    h_inv = torch.linalg.inv(h)
    saliency = theta**2 / (2 * torch.diagonal(h_inv))
    out = run_method(model, "obs", hp("obs", damp=0.5, update=update), 0.6, batches=[(x, y)])
    kept = flat(out.mask, names)
    k = prune_count(0.6, 55)
    assert (~kept).nonzero().flatten().tolist() == sorted(torch.sort(saliency, stable=True).indices[:k].tolist())
    removed = (~kept).nonzero().flatten().tolist()
    if update == "joint":
        expected = kkt_argmin(h, theta, removed)
    elif update == "independent":
        expected = theta - sum((theta[q] / h_inv[q, q]) * h_inv[:, q] for q in removed)
    else:
        expected = theta
    expected = torch.where(kept, expected, torch.zeros_like(expected))
    torch.testing.assert_close(flat(dict(out.model.named_parameters()), names), expected, rtol=0, atol=1e-9)
    assert out.updated == (update != "none")


def lenet(data):
    from prunelab.models import build_model

    return build_model({"name": "lenet_300_100"}, data.input_shape, data.num_classes, seed=0)


def test_exact_obs_refuses_large_models_in_one_line(digits28):
    model = lenet(digits28)
    with pytest.raises(ConfigError) as info:
        run_method(model, "obs", hp("obs"), 0.5, batches=scoring_batches(digits28, 20, 20, 0))
    message = str(info.value)
    assert "\n" not in message and "266200" in message and "woodfisher" in message and "lobs" in message


# --------------------------------------------------------------------------------------------------
# WoodFisher (oracle 10 through the method)
# --------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("block_size,mini_batch", [(55, 1), (6, 1), (6, 2)])
def test_woodfisher_statistic_and_update_match_explicit_block_fisher(block_size, mini_batch):
    model = tiny_mlp(4)
    x, y = tiny_data(16, 7)
    names = list(prunable_parameters(model))
    first = run_method(model, "magnitude", {}, 0.2)  # masked gradients, nested selection
    keep = flat(first.mask, names)
    theta = flat(dict(first.model.named_parameters()), names)
    per_example = loop_gradients(first.model, names, x, y)
    num_grads, damp = 16 // mini_batch, 1e-2
    grads = per_example.view(num_grads, mini_batch, -1).mean(1) * keep
    layout = BlockLayout([40, 15], block_size)
    statistic = torch.empty(55, dtype=D)
    inverses = []
    for index, valid in zip(layout.index, layout.valid):
        idx = index[valid]
        f_inv = torch.linalg.inv(damp * torch.eye(len(idx), dtype=D) + grads[:, idx].T @ grads[:, idx] / num_grads)
        statistic[idx] = theta[idx] ** 2 / (2 * torch.diagonal(f_inv))
        inverses.append((idx, f_inv))
    expected_mask = select({"all": statistic}, 0.7, previous={"all": keep})["all"]
    out = run_method(
        first.model,
        "woodfisher",
        hp(
            "woodfisher",
            num_grads=num_grads,
            fisher_mini_bsz=mini_batch,
            block_size=block_size,
            damp=damp,
            update="joint",
        ),
        0.7,
        previous=first.mask,
        batches=[(x[:9], y[:9]), (x[9:], y[9:])],
    )
    assert torch.equal(flat(out.mask, names), expected_mask)
    expected = theta.clone()
    for idx, f_inv in inverses:
        removed = (~expected_mask[idx]).nonzero().flatten().tolist()
        expected[idx] = kkt_argmin(torch.linalg.inv(f_inv), theta[idx], removed)
    expected = torch.where(expected_mask, expected, torch.zeros_like(expected))
    torch.testing.assert_close(flat(dict(out.model.named_parameters()), names), expected, rtol=0, atol=1e-8)


def test_woodfisher_with_one_block_per_tensor_equals_the_full_fisher_of_a_single_layer():
    torch.manual_seed(5)
    model = nn.Linear(8, 3).double()
    x, y = tiny_data(10, 8)
    g = loop_gradients(model, ["weight"], x, y)
    f_inv = torch.linalg.inv(1e-3 * torch.eye(24, dtype=D) + g.T @ g / 10)
    theta = model.weight.detach().flatten()
    statistic = theta**2 / (2 * torch.diagonal(f_inv))
    out = run_method(
        model,
        "woodfisher",
        hp("woodfisher", num_grads=10, block_size=24, damp=1e-3, update="joint"),
        0.5,
        batches=[(x, y)],
    )
    expected_mask = select({"w": statistic}, 0.5)["w"]
    assert torch.equal(out.mask["weight"].flatten(), expected_mask)
    removed = (~expected_mask).nonzero().flatten().tolist()
    expected = torch.where(expected_mask, kkt_argmin(torch.linalg.inv(f_inv), theta, removed), torch.zeros(24, dtype=D))
    torch.testing.assert_close(out.model.weight.detach().flatten(), expected, rtol=0, atol=1e-9)


# --------------------------------------------------------------------------------------------------
# L-OBS (oracle 11)
# --------------------------------------------------------------------------------------------------
def test_lobs_on_one_linear_layer_is_exact_row_wise_obs():
    torch.manual_seed(6)
    layer = nn.Linear(6, 4).double()
    x = torch.randn(20, 6, generator=torch.Generator().manual_seed(9), dtype=D)
    y = torch.zeros(20, dtype=torch.long)
    w = layer.weight.detach().clone()

    def reconstruction(w_hat):  # ‖(W − Ŵ)X‖²/n
        return ((w - w_hat.view(4, 6)) @ x.T).pow(2).sum() / len(x)

    h = hessian(reconstruction)(w.flatten())
    psi = x.T @ x / len(x)
    torch.testing.assert_close(h, torch.block_diag(*[2 * psi] * 4), rtol=1e-12, atol=1e-14)
    torch.testing.assert_close(
        cv.layer_input_moments(layer, ["weight"], [(x, y)])["weight"], psi, rtol=1e-12, atol=1e-15
    )
    psi_inv = torch.linalg.inv(psi)
    for i, j in ((0, 0), (2, 3), (3, 5)):  # single weight: saliency ×2 is the increase
        row = w[i] + obs_algebra.single_update(psi_inv, w[i], j)
        w_hat = w.clone()
        w_hat[i] = row
        predicted = 2 * w[i, j] ** 2 / (2 * psi_inv[j, j])
        torch.testing.assert_close(reconstruction(w_hat.flatten()), predicted, rtol=1e-10, atol=1e-14)
    out = run_method(layer, "lobs", hp("lobs", damp=0.0), 0.5, batches=[(x, y)])
    saliency = w**2 / (2 * torch.diagonal(psi_inv))
    assert torch.equal(out.mask["weight"], select({"w": saliency}, 0.5)["w"])
    removed = (~out.mask["weight"].flatten()).nonzero().flatten().tolist()
    expected = kkt_argmin(h, w.flatten(), removed).view(4, 6)
    torch.testing.assert_close(out.model.weight.detach(), expected, rtol=0, atol=1e-10)
    torch.testing.assert_close(out.model.bias.detach(), layer.bias.detach(), rtol=0, atol=0)


def test_lobs_conv_update_attains_the_predicted_output_error():
    torch.manual_seed(7)
    conv = nn.Conv2d(2, 3, 3, padding=1, stride=2, bias=False).double()
    model = nn.Sequential(nn.Unflatten(1, (2, 5, 5)), conv)
    x = torch.randn(20, 50, generator=torch.Generator().manual_seed(10), dtype=D)
    y = torch.zeros(20, dtype=torch.long)
    images = x.view(20, 2, 5, 5)
    padded = F.pad(images, (1, 1, 1, 1))
    patches = torch.stack(
        [
            padded[i, :, r : r + 3, c : c + 3].flatten()
            for i in range(20)
            for r in range(0, 5, 2)
            for c in range(0, 5, 2)
        ]
    )
    psi_inv = torch.linalg.inv(patches.T @ patches / len(patches))
    w = conv.weight.detach().view(3, -1)
    out = run_method(model, "lobs", hp("lobs", damp=0.0), 0.6, scope="layerwise", batches=[(x, y)])
    kept = out.mask["1.weight"].view(3, -1)
    assert int((~kept).sum()) == prune_count(0.6, 54)
    predicted = sum(
        0.5 * w[i][~kept[i]] @ torch.linalg.solve(psi_inv[~kept[i]][:, ~kept[i]], w[i][~kept[i]]) for i in range(3)
    )
    with torch.no_grad():
        error = (conv(images) - F.conv2d(images, out.model[1].weight, stride=2, padding=1)).pow(2).sum()
    torch.testing.assert_close(error / (2 * len(patches)), predicted, rtol=1e-10, atol=1e-14)


# --------------------------------------------------------------------------------------------------
# Purity (oracle 3), refusals, hyperparameter checks
# --------------------------------------------------------------------------------------------------
CONFIGS = [
    ("lm", {}),
    ("qm", {"lambda": 1e-3}),
    ("obd", {}),
    ("obd", {"curvature": "empirical_fisher"}),
    ("obd", {"curvature": "mc_fisher", "samples": 2}),
    ("obd", {"curvature": "hessian"}),
    ("obd", {"curvature": "hutchinson", "samples": 3}),
    ("obs", {}),
    ("obs", {"update": "joint"}),
    ("obs", {"curvature": "hessian", "damp": 1.0, "update": "independent"}),
    ("lobs", {}),
    ("woodfisher", {"num_grads": 6, "block_size": 4}),
    ("woodfisher", {"num_grads": 3, "fisher_mini_bsz": 2}),
]


def bn_convnet():
    torch.manual_seed(8)
    model = nn.Sequential(
        nn.Unflatten(1, (2, 2, 2)),
        nn.Conv2d(2, 3, 2, padding=1),
        nn.BatchNorm2d(3),
        nn.Tanh(),
        nn.Flatten(),
        nn.Linear(27, 3),
    ).double()
    x, _ = tiny_data()
    with torch.no_grad():
        model(x)  # non-trivial running statistics
    return model


@pytest.mark.parametrize("name,given", CONFIGS, ids=[f"{n}-{i}" for i, (n, _) in enumerate(CONFIGS)])
def test_methods_are_pure_and_seed_deterministic(name, given):
    model = bn_convnet()
    x, y = tiny_data()
    before = state_hash(model)
    method, hparams = get_method(name), hp(name, **given)
    results = []
    for _ in range(2):
        ctx = context(model, [(x[:7], y[:7]), (x[7:], y[7:])], 0.5, seed=11)
        results.append(method.score(ctx, **hparams) if method.score else method.prune(ctx, **hparams))
        assert state_hash(model) == before and model.training
    if method.score:
        assert all(torch.equal(results[0][n], results[1][n]) for n in results[0])
    else:
        (mask_a, upd_a), (mask_b, upd_b) = results
        assert all(torch.equal(mask_a[n], mask_b[n]) for n in mask_a)
        assert (upd_a is None) == (upd_b is None) and all(torch.equal(upd_a[n], upd_b[n]) for n in upd_a or {})
    assert method.needs_data


@pytest.mark.parametrize(
    "name,given",
    [
        ("lm", {}),
        ("obd", {"curvature": "hutchinson"}),
        ("lobs", {}),
        ("obs", {"curvature": "hessian", "damp": 50.0}),
        ("woodfisher", {"num_grads": 6, "fisher_mini_bsz": 2}),
    ],
)
def test_methods_that_need_no_per_example_gradients_score_at_init_without_touching_batchnorm(name, given):
    model = bn_convnet().eval()
    x, y = tiny_data()
    before = state_hash(model)
    method = get_method(name)
    ctx = context(model, [(x, y)], 0.5, at_init=True)
    result = method.score(ctx, **hp(name, **given)) if method.score else method.prune(ctx, **hp(name, **given))
    assert result and state_hash(model) == before and not model.training


@pytest.mark.parametrize("name,given", [("qm", {}), ("obd", {}), ("obs", {}), ("woodfisher", {"num_grads": 6})])
def test_per_example_curvature_at_init_with_batchnorm_is_refused_in_one_line(name, given):
    x, y = tiny_data()
    with pytest.raises(ConfigError, match="BatchNorm") as info:
        run_method(bn_convnet(), name, hp(name, **given), 0.5, batches=[(x, y)], at_init=True)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize("given", [{"curvature": "mc_fisher"}, {"curvature": "hutchinson"}])
def test_stochastic_curvatures_follow_the_pruning_seed(given):
    model = tiny_mlp()
    x, y = tiny_data()
    scores = [
        get_method("obd").score(context(model, [(x, y)], 0.5, seed=seed), **hp("obd", **given)) for seed in (1, 1, 2)
    ]
    assert all(torch.equal(scores[0][n], scores[1][n]) for n in scores[0])
    assert not all(torch.equal(scores[0][n], scores[2][n]) for n in scores[0])


@pytest.mark.parametrize(
    "name,given,key",
    [
        ("obd", {"curvature": "diag"}, "curvature"),
        ("obd", {"samples": 0}, "samples"),
        ("obd", {"lambda": -1.0}, "lambda"),
        ("lm", {"lambda": True}, "lambda"),
        ("qm", {"lambda": float("nan")}, "lambda"),
        ("obs", {"update": "sometimes"}, "update"),
        ("obs", {"curvature": "fisher"}, "curvature"),
        ("obs", {"damp": -1}, "damp"),
        ("woodfisher", {"damp": 0.0}, "damp"),
        ("woodfisher", {"block_size": 0}, "block_size"),
        ("woodfisher", {"num_grads": 2.5}, "num_grads"),
        ("woodfisher", {"fisher_mini_bsz": 0}, "fisher_mini_bsz"),
        ("woodfisher", {"update": "greedy"}, "update"),
        ("lobs", {"damp": -0.1}, "damp"),
        ("lobs", {"update": "x"}, "update"),
    ],
)
def test_bad_hyperparameters_are_rejected_in_one_line(name, given, key):
    with pytest.raises(ConfigError) as info:
        resolve_hparams(name, given)
    message = str(info.value)
    assert "\n" not in message and f"hparams.{key}: " in message and f"(method '{name}')" in message


def test_woodfisher_asks_for_enough_scoring_examples():
    model = tiny_mlp()
    x, y = tiny_data()
    with pytest.raises(ConfigError, match="scoring.examples"):
        run_method(model, "woodfisher", hp("woodfisher", num_grads=13), 0.5, batches=[(x, y)])


# --------------------------------------------------------------------------------------------------
# End to end on LeNet-300-100 with digits
# --------------------------------------------------------------------------------------------------
E2E = [
    ("lm", {}, {}),
    ("qm", {}, {}),
    ("obd", {}, {}),
    ("obd", {"curvature": "mc_fisher"}, {}),
    ("obd", {"curvature": "hutchinson", "samples": 2}, {}),
    ("lobs", {}, {}),
    ("woodfisher", {"num_grads": 40, "block_size": 32}, {}),
    ("obs", {}, {"exclude": ["net.1.weight", "net.3.weight"]}),
    ("qm", {}, {"scope": "layerwise"}),
    (
        "woodfisher",
        {"num_grads": 20, "fisher_mini_bsz": 2, "block_size": 16, "update": "independent"},
        {"scope": "layerwise"},
    ),
]


@pytest.mark.parametrize("name,given,options", E2E, ids=[f"{n}-{i}" for i, (n, _, _) in enumerate(E2E)])
def test_every_method_prunes_lenet_300_100_to_the_exact_count(digits28, name, given, options):
    model = lenet(digits28)
    batches = scoring_batches(digits28, 60, 30, 0)
    out = run_method(model, name, hp(name, **given), 0.8, batches=batches, data=digits28, seed=1, **options)
    if options.get("scope") == "layerwise":
        for m in out.mask.values():
            assert m.numel() - int(m.sum()) == prune_count(0.8, m.numel())
    else:
        assert out.mask.total - out.mask.kept == prune_count(0.8, out.mask.total)
    for n, p in prunable_parameters(out.model, options.get("exclude", ())).items():
        assert bool((p[~out.mask[n]] == 0).all()) and bool(torch.isfinite(p).all())
    assert out.updated == get_method(name).updates_weights
    with torch.no_grad():
        assert math.isfinite(float(F.cross_entropy(out.model(batches[0][0]), batches[0][1])))
