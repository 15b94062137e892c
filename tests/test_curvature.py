"""Curvature oracles (docs/methods.md §5 oracle 7, and the references for 8–10): every quantity of
prunelab.pruning.curvature against an independent reference on tiny float64 networks."""

import math

import pytest
import torch
import torch.nn.functional as F
from curvature_references import loop_gradients, reference_ggn, reference_loss, state_hash
from torch import nn
from torch.func import hessian

from prunelab.errors import ConfigError
from prunelab.pruning import curvature as cv
from prunelab.training.masks import prunable_parameters

D = torch.float64


class TokenMLP(nn.Module):
    """A Linear applied to a (batch, tokens, features) input: per-example gradients sum over tokens."""

    def __init__(self):
        super().__init__()
        self.mix = nn.Linear(4, 3)
        self.out = nn.Linear(6, 3)

    def forward(self, x):
        return self.out(torch.tanh(self.mix(x.view(len(x), 2, 4))).flatten(1))


def mlp():
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(8, 5), nn.Tanh(), nn.Linear(5, 3)).double()


def convnet():
    torch.manual_seed(1)
    return nn.Sequential(
        nn.Unflatten(1, (2, 2, 2)), nn.Conv2d(2, 3, 2, padding=1, stride=1), nn.Tanh(), nn.Flatten(), nn.Linear(27, 3)
    ).double()


def tokennet():
    torch.manual_seed(2)
    return TokenMLP().double()


NETS = {"mlp": mlp, "conv": convnet, "tokens": tokennet}


def weight_names(model):
    return list(prunable_parameters(model))


def data(n=10, seed=3):
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 8, generator=gen, dtype=D)
    y = torch.randint(0, 3, (n,), generator=gen)
    return x, y


def batches_of(x, y, split=7):
    """Two batches of unequal size, so that averaging over batch means would be detectably wrong."""
    return [(x[:split], y[:split]), (x[split:], y[split:])]


@pytest.mark.parametrize("net", sorted(NETS))
def test_fast_ggn_diagonal_equals_explicit_jacobians(net):
    model = NETS[net]()
    names = weight_names(model)
    x, y = data()
    fm = cv.FlatModel(model, names)
    reference = reference_ggn(model, names, x)
    torch.testing.assert_close(cv.ggn_diagonal(fm, batches_of(x, y)), torch.diagonal(reference), rtol=1e-10, atol=1e-14)
    torch.testing.assert_close(cv.ggn_matrix(fm, batches_of(x, y)), reference, rtol=1e-10, atol=1e-14)


@pytest.mark.parametrize("loss", ["ce", "se"])
def test_ggn_equals_hessian_for_a_linear_model(loss):
    torch.manual_seed(4)
    model = nn.Linear(8, 3).double()
    x, y = data()
    objective = cv.CROSS_ENTROPY if loss == "ce" else cv.SQUARED_ERROR
    fm = cv.FlatModel(model, ["weight"], objective=objective)
    ggn = cv.ggn_matrix(fm, batches_of(x, y))
    hess = cv.hessian_matrix(fm, batches_of(x, y))
    torch.testing.assert_close(ggn, hess, rtol=1e-10, atol=1e-14)
    torch.testing.assert_close(cv.ggn_diagonal(fm, batches_of(x, y)), torch.diagonal(hess), rtol=1e-10, atol=1e-14)
    f, theta = reference_loss(model, ["weight"], x, y, loss)
    torch.testing.assert_close(hess, hessian(f)(theta), rtol=1e-10, atol=1e-14)


def test_ggn_differs_from_hessian_for_a_nonlinear_net():
    """The previous test could pass with a GGN that silently returned the Hessian; here they must differ."""
    model = mlp()
    x, y = data()
    fm = cv.FlatModel(model, weight_names(model))
    gap = (cv.ggn_matrix(fm, [(x, y)]) - cv.hessian_matrix(fm, [(x, y)])).abs().max()
    assert gap > 1e-4


@pytest.mark.parametrize("net", sorted(NETS))
def test_empirical_fisher_is_the_mean_of_squared_loop_gradients(net):
    model = NETS[net]()
    names = weight_names(model)
    x, y = data()
    fm = cv.FlatModel(model, names)
    expected = loop_gradients(model, names, x, y).pow(2).mean(0)
    torch.testing.assert_close(cv.empirical_fisher_diagonal(fm, batches_of(x, y)), expected, rtol=1e-10, atol=1e-14)


@pytest.mark.parametrize("net", sorted(NETS))
def test_mc_fisher_uses_labels_drawn_from_the_model(net):
    model = NETS[net]()
    names = weight_names(model)
    x, y = data()
    fm = cv.FlatModel(model, names)
    batches = batches_of(x, y)
    labels = cv.sample_labels(fm, batches, torch.Generator().manual_seed(5), samples=3)
    expected = torch.zeros(fm.size, dtype=D)
    for draw in range(3):
        drawn = torch.cat([labels[b][draw] for b in range(len(batches))])
        expected += loop_gradients(model, names, x, drawn).pow(2).sum(0)
    expected /= 3 * len(y)
    got = cv.mc_fisher_diagonal(fm, batches, torch.Generator().manual_seed(5), samples=3)
    torch.testing.assert_close(got, expected, rtol=1e-10, atol=1e-14)


def test_mc_fisher_converges_to_the_ggn_diagonal_and_the_empirical_fisher_does_not():
    model = mlp()
    x, y = data()
    fm = cv.FlatModel(model, weight_names(model))
    ggn = cv.ggn_diagonal(fm, [(x, y)])
    mc = cv.mc_fisher_diagonal(fm, [(x, y)], torch.Generator().manual_seed(0), samples=3000)
    ef = cv.empirical_fisher_diagonal(fm, [(x, y)])
    scale = ggn.abs().max()
    assert (mc - ggn).abs().max() < 0.03 * scale
    assert (ef - ggn).abs().max() > 0.1 * scale


def test_hessian_diagonal_and_matrix_equal_torch_func_hessian():
    model = mlp()
    names = weight_names(model)
    x, y = data()
    fm = cv.FlatModel(model, names)
    f, theta = reference_loss(model, names, x, y)
    reference = hessian(f)(theta)
    torch.testing.assert_close(
        cv.hessian_diagonal(fm, batches_of(x, y)), torch.diagonal(reference), rtol=1e-10, atol=1e-14
    )
    torch.testing.assert_close(cv.hessian_matrix(fm, batches_of(x, y)), reference, rtol=1e-10, atol=1e-14)
    v = torch.randn(fm.size, generator=torch.Generator().manual_seed(6), dtype=D)
    torch.testing.assert_close(
        cv.hessian_vector_product(fm, batches_of(x, y), v), reference @ v, rtol=1e-10, atol=1e-14
    )


def test_hutchinson_is_unbiased_and_seeded():
    model = mlp()
    names = weight_names(model)
    x, y = data()
    fm = cv.FlatModel(model, names)
    f, theta = reference_loss(model, names, x, y)
    h = hessian(f)(theta)
    probes = 2000
    estimate = cv.hutchinson_diagonal(fm, [(x, y)], probes, torch.Generator().manual_seed(7))
    # v_q (Hv)_q = H_qq + Σ_{j≠q} v_q v_j H_qj: the noise has variance Σ_{j≠q} H_qj² per probe
    off = h - torch.diag(torch.diagonal(h))
    standard_error = off.pow(2).sum(1).div(probes).sqrt()
    assert bool(((estimate - torch.diagonal(h)).abs() <= 5 * standard_error + 1e-12).all())
    assert (estimate - torch.diagonal(h)).abs().max() > 0  # an estimate, not the exact diagonal
    again = cv.hutchinson_diagonal(fm, [(x, y)], probes, torch.Generator().manual_seed(7))
    assert torch.equal(estimate, again)


def test_hutchinson_is_exact_for_a_diagonal_hessian():
    """v_q² = 1 and no off-diagonal terms: every probe returns the diagonal itself."""
    x = torch.diag(torch.tensor([0.5, 1.5, 2.0, 1.0], dtype=D))
    t = torch.ones(4, 1, dtype=D)
    model = nn.Linear(4, 1, bias=False).double()
    fm = cv.FlatModel(model, ["weight"], objective=cv.SQUARED_ERROR)
    estimate = cv.hutchinson_diagonal(fm, [(x, t)], 3, torch.Generator().manual_seed(0), probes_at_once=2)
    torch.testing.assert_close(estimate, torch.diagonal(x).pow(2) / 4, rtol=1e-14, atol=0)


def test_gradients_match_autograd_loops():
    model = convnet()
    names = weight_names(model)
    x, y = data()
    fm = cv.FlatModel(model, names)
    loops = loop_gradients(model, names, x, y)
    torch.testing.assert_close(cv.mean_gradient(fm, batches_of(x, y)), loops.mean(0), rtol=1e-10, atol=1e-14)
    torch.testing.assert_close(cv.per_example_gradients(fm, x, y), loops, rtol=1e-10, atol=1e-14)
    groups = torch.cat(list(cv.minibatch_gradients(fm, batches_of(x, y), mini_batch=3, count=3)))
    torch.testing.assert_close(groups, loops[:9].view(3, 3, -1).mean(1), rtol=1e-10, atol=1e-14)
    with pytest.raises(ConfigError, match="scoring.examples"):
        list(cv.minibatch_gradients(fm, batches_of(x, y), mini_batch=4, count=3))


def test_dense_matrices_are_refused_above_ten_thousand_weights():
    model = nn.Linear(101, 100)
    fm = cv.FlatModel(model, ["weight"])
    x, y = torch.randn(2, 101), torch.tensor([0, 1])
    for build, hint in (
        (cv.hessian_matrix, "hutchinson"),
        (cv.ggn_matrix, "WoodFisher"),
        (cv.hessian_diagonal, "hutchinson"),
    ):
        with pytest.raises(ConfigError, match=hint) as info:
            build(fm, [(x, y)])
        assert "\n" not in str(info.value) and "10100" in str(info.value)


def bn_net():
    torch.manual_seed(8)
    return nn.Sequential(
        nn.Unflatten(1, (2, 2, 2)), nn.Conv2d(2, 3, 2), nn.BatchNorm2d(3), nn.ReLU(), nn.Flatten(), nn.Linear(3, 3)
    ).double()


@pytest.mark.parametrize("at_init", [False, True])
def test_curvature_never_mutates_the_model(at_init):
    model = bn_net()
    model.train()
    x, y = data()
    with torch.no_grad():
        model(x)  # non-trivial running statistics
    before = state_hash(model)
    fm = cv.FlatModel(model, weight_names(model), at_init=at_init)
    gen = torch.Generator().manual_seed(0)
    cv.mean_gradient(fm, [(x, y)])
    cv.hutchinson_diagonal(fm, [(x, y)], 2, gen)
    cv.hessian_diagonal(fm, [(x, y)])
    cv.layer_input_moments(model, weight_names(model), [(x, y)], at_init=at_init)
    if not at_init:
        for kind in cv.DIAGONALS:
            cv.curvature_diagonal(kind, fm, [(x, y)], gen, 2)
        cv.ggn_matrix(fm, [(x, y)])
    assert state_hash(model) == before and model.training


def test_at_init_uses_batch_statistics_and_refuses_per_example_curvature():
    model = bn_net().eval()
    x, y = data()
    fm = cv.FlatModel(model, weight_names(model), at_init=True)
    reference = __import__("copy").deepcopy(model).train()
    F.cross_entropy(reference(x), y).backward()
    expected = torch.cat([p.grad.flatten() for p in prunable_parameters(reference).values()])
    torch.testing.assert_close(cv.mean_gradient(fm, [(x, y)]), expected, rtol=1e-10, atol=1e-14)
    for kind in ("ggn", "empirical_fisher", "mc_fisher"):
        with pytest.raises(ConfigError, match="BatchNorm") as info:
            cv.curvature_diagonal(kind, fm, [(x, y)], torch.Generator(), 1)
        assert "\n" not in str(info.value)
    assert not model.training


def test_layer_input_moments_are_input_and_patch_second_moments():
    model = convnet()
    x, y = data()
    moments = cv.layer_input_moments(model, weight_names(model), batches_of(x, y))
    images = x.view(-1, 2, 2, 2)
    padded = F.pad(images, (1, 1, 1, 1))
    patches = torch.stack(
        [padded[i, :, r : r + 2, c : c + 2].flatten() for i in range(len(x)) for r in range(3) for c in range(3)]
    )
    torch.testing.assert_close(moments["1.weight"], patches.T @ patches / len(patches), rtol=1e-12, atol=1e-14)
    with torch.no_grad():
        hidden = torch.tanh(model[1](images)).flatten(1)
    torch.testing.assert_close(moments["4.weight"], hidden.T @ hidden / len(x), rtol=1e-12, atol=1e-14)
    assert math.isclose(float(torch.trace(moments["4.weight"])), float(hidden.pow(2).sum(1).mean()), rel_tol=1e-12)


def test_hessian_vector_products_raise_no_torch_jit_deprecation_warning():
    """torch scripts its forward-AD decompositions on the first jvp of a process; that warning is torch's own
    and silenced at the source (a fresh interpreter, since it is loaded once per process)."""
    import subprocess
    import sys

    code = (
        "import torch; from torch import nn; from prunelab.pruning import curvature as cv\n"
        "model = nn.Linear(3, 2); fm = cv.FlatModel(model, ['weight'])\n"
        "batches = [(torch.randn(4, 3), torch.tensor([0, 1, 0, 1]))]\n"
        "cv.hessian_vector_product(fm, batches, torch.ones(fm.size))\n"
    )
    proc = subprocess.run([sys.executable, "-W", "error::FutureWarning", "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-2000:]
