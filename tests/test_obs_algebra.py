"""OBS linear algebra against KKT solves (docs/methods.md §5 oracle 9) and the Woodbury / block inverses of
WoodFisher (oracle 10), on random symmetric positive definite matrices in float64."""

import pytest
import torch
from curvature_references import brute_force_greedy, kkt_argmin, quadratic_increase

from prunelab.errors import PrunelabError
from prunelab.pruning import kkt as obs
from prunelab.pruning.woodfisher import BlockLayout

D = torch.float64


def spd(n=6, seed=0):
    gen = torch.Generator().manual_seed(seed)
    a = torch.randn(n, n, generator=gen, dtype=D)
    return a @ a.T + 0.5 * torch.eye(n, dtype=D)


def vector(n=6, seed=1):
    return torch.randn(n, generator=torch.Generator().manual_seed(seed), dtype=D)


def test_single_weight_update_is_the_constrained_argmin_and_its_loss_increase():
    h, theta = spd(), vector()
    h_inv = torch.linalg.inv(h)
    for q in range(6):
        delta = obs.single_update(h_inv, theta, q)
        torch.testing.assert_close(theta + delta, kkt_argmin(h, theta, [q]), rtol=0, atol=1e-10)
        assert abs(float(theta[q] + delta[q])) < 1e-12
        expected = theta[q] ** 2 / (2 * h_inv[q, q])
        torch.testing.assert_close(quadratic_increase(h, delta), expected, rtol=1e-10, atol=0)
        torch.testing.assert_close(obs.saliency(torch.diagonal(h_inv), theta)[q], expected, rtol=1e-12, atol=0)


@pytest.mark.parametrize("removed", [(2,), (1, 3, 4), (0, 1, 2, 3, 5)])
def test_joint_update_is_the_constrained_argmin_of_the_set(removed):
    h, theta = spd(), vector()
    h_inv = torch.linalg.inv(h)
    mask = torch.zeros(6, dtype=torch.bool)
    mask[list(removed)] = True
    expected = kkt_argmin(h, theta, removed)
    torch.testing.assert_close(theta + obs.joint_update(h_inv, theta, mask), expected, rtol=0, atol=1e-10)
    torch.testing.assert_close(
        theta + obs.joint_update_vector(h, h_inv, theta, mask, ~mask), expected, rtol=0, atol=1e-10
    )
    q = list(removed)
    increase = 0.5 * theta[q] @ torch.linalg.solve(h_inv[q][:, q], theta[q])
    torch.testing.assert_close(quadratic_increase(h, expected - theta), increase, rtol=1e-10, atol=0)


def test_joint_update_vector_keeps_weights_outside_the_problem_fixed():
    """Entries already removed (θ = 0, outside S ∪ Q) stay 0, whichever of its two systems is solved."""
    h, theta = spd(7, 2), vector(7, 3)
    theta[[0, 5]] = 0.0
    alive = torch.ones(7, dtype=torch.bool)
    alive[[0, 5]] = False
    h_inv = obs.restricted_inverse(h, alive, "test")
    for removed in ((1,), (1, 2, 3, 4)):  # |Q| ≤ |S| and |Q| > |S|
        q = torch.zeros(7, dtype=torch.bool)
        q[list(removed)] = True
        delta = obs.joint_update_vector(h, h_inv, theta, q, alive & ~q)
        torch.testing.assert_close(theta + delta, kkt_argmin(h, theta, [0, 5, *removed]), rtol=0, atol=1e-10)


def test_batched_joint_update_gives_each_block_its_own_constrained_argmin():
    blocks = torch.stack([spd(5, s) for s in range(3)])
    thetas = torch.stack([vector(5, 10 + s) for s in range(3)])
    removed = torch.tensor([[1, 0, 0, 1, 0], [0, 0, 0, 0, 0], [1, 1, 1, 0, 1]], dtype=torch.bool)
    inverses = torch.linalg.inv(blocks)
    got = thetas + obs.joint_update(inverses, thetas, removed)
    for b in range(3):
        expected = kkt_argmin(blocks[b], thetas[b], removed[b].nonzero().flatten().tolist())
        torch.testing.assert_close(got[b], expected, rtol=0, atol=1e-10)


def test_independent_update_is_the_sum_of_single_updates():
    h, theta = spd(), vector()
    h_inv = torch.linalg.inv(h)
    removed = torch.tensor([1, 0, 1, 1, 0, 0], dtype=torch.bool)
    expected = sum(obs.single_update(h_inv, theta, q) for q in (0, 2, 3))
    torch.testing.assert_close(obs.independent_update(h_inv, theta, removed), expected, rtol=1e-12, atol=1e-14)


def test_diagonal_curvature_gives_the_obd_ranking_and_local_updates():
    d = torch.tensor([0.5, 2.0, 1.0, 3.0, 0.25, 4.0], dtype=D)
    _h, theta = torch.diag(d), vector()
    h_inv = torch.diag(1 / d)
    sal = obs.saliency(torch.diagonal(h_inv), theta)
    torch.testing.assert_close(sal, 0.5 * d * theta**2, rtol=1e-14, atol=0)
    assert torch.equal(torch.argsort(sal), torch.argsort(0.5 * d * theta**2))
    for q in range(6):
        delta = obs.single_update(h_inv, theta, q)
        assert torch.equal(delta[torch.arange(6) != q], torch.zeros(5, dtype=D))
        assert float(delta[q]) == -float(theta[q])


def test_downdate_is_the_inverse_restricted_to_the_survivors():
    h = spd()
    h_inv = torch.linalg.inv(h)
    alive = torch.ones(6, dtype=torch.bool)
    for q in (4, 1, 2):
        obs.downdate_(h_inv, q)
        alive[q] = False
        idx = alive.nonzero().flatten()
        expected = torch.zeros(6, 6, dtype=D)
        expected[idx.unsqueeze(1), idx] = torch.linalg.inv(h[idx][:, idx])
        torch.testing.assert_close(h_inv, expected, rtol=0, atol=1e-10)
        torch.testing.assert_close(obs.restricted_inverse(h, alive, "test"), expected, rtol=0, atol=1e-10)


@pytest.mark.parametrize("group,quota", [([0] * 6, [4]), ([0, 0, 0, 1, 1, 1], [1, 2])])
def test_greedy_removal_matches_brute_force_greedy_and_ends_at_the_joint_argmin(group, quota):
    h, theta = spd(6, 4), vector(6, 5)
    alive = torch.ones(6, dtype=torch.bool)
    new_theta, new_alive = obs.greedy_removal(
        torch.linalg.inv(h), theta, alive, torch.tensor(group), torch.tensor(quota)
    )
    removed, expected = brute_force_greedy(h, theta, group, quota)
    assert sorted(removed) == (~new_alive).nonzero().flatten().tolist()
    torch.testing.assert_close(new_theta, expected, rtol=0, atol=1e-10)
    assert bool((new_theta[~new_alive] == 0).all())


def test_restricted_inverse_refuses_an_indefinite_curvature():
    h = spd() - 20 * torch.eye(6, dtype=D)
    with pytest.raises(PrunelabError, match="damp") as info:
        obs.restricted_inverse(h, torch.ones(6, dtype=torch.bool), "method 'obs'")
    assert "\n" not in str(info.value)


def gradients(n, p, seed=6):
    return torch.randn(n, p, generator=torch.Generator().manual_seed(seed), dtype=D)


def direct_fisher_inverse(g, damp):
    return torch.linalg.inv(damp * torch.eye(g.shape[1], dtype=D) + g.T @ g / len(g))


@pytest.mark.parametrize("rank,chunk", [(1, 5), (3, 5), (32, 7), (2, 20)])
def test_woodbury_recursion_equals_the_direct_inverse(rank, chunk):
    g, damp = gradients(20, 6), 1e-2
    chunks = [g[i : i + chunk] for i in range(0, 20, chunk)]
    got = obs.woodbury_inverse(iter(chunks), 20, damp, (6,), rank=rank)
    torch.testing.assert_close(got, direct_fisher_inverse(g, damp), rtol=1e-8, atol=0)


@pytest.mark.parametrize("chunk", [1, 7, 20])
def test_accumulated_inverse_equals_the_direct_inverse_and_the_recursion(chunk):
    g, damp = gradients(20, 6), 1e-2
    chunks = [g[i : i + chunk] for i in range(0, 20, chunk)]
    got = obs.accumulated_inverse(iter(chunks), 20, damp, (6,))
    torch.testing.assert_close(got, direct_fisher_inverse(g, damp), rtol=1e-8, atol=0)
    torch.testing.assert_close(got, obs.woodbury_inverse(iter(chunks), 20, damp, (6,)), rtol=1e-8, atol=0)
    with pytest.raises(PrunelabError, match="expected 21"):
        obs.accumulated_inverse(iter(chunks), 21, damp, (6,))


def test_one_sherman_morrison_step_equals_the_direct_inverse():
    g, damp = gradients(1, 5), 0.3
    f0_inv = torch.eye(5, dtype=D) / damp
    u = f0_inv @ g[0]
    step = f0_inv - torch.outer(u, u) / (1 + g[0] @ u)
    torch.testing.assert_close(step, direct_fisher_inverse(g, damp), rtol=1e-12, atol=0)
    torch.testing.assert_close(obs.woodbury_inverse(iter([g]), 1, damp, (5,), rank=1), step, rtol=1e-12, atol=0)


def test_woodbury_counts_its_gradients():
    with pytest.raises(PrunelabError, match="expected 4"):
        obs.woodbury_inverse(iter([gradients(3, 5)]), 4, 0.1, (5,))


def test_block_diagonal_inverse_with_one_block_equals_the_full_inverse_and_smaller_blocks_the_blockwise():
    sizes, damp = [7, 5], 0.05
    g = gradients(9, sum(sizes), 7)
    for block in (12, 3):
        layout = BlockLayout(sizes, block)
        if block == 12:
            layout = BlockLayout([12], 12)
        blocks = obs.woodbury_inverse(iter([layout.blocks(g).transpose(0, 1)]), 9, damp, layout.shape, rank=4)
        for b, index in enumerate(layout.index):
            valid = index[layout.valid[b]]
            expected = direct_fisher_inverse(g[:, valid], damp)
            n = len(valid)
            torch.testing.assert_close(blocks[b][:n, :n], expected, rtol=1e-8, atol=0)
            torch.testing.assert_close(blocks[b][n:, n:], torch.eye(block - n, dtype=D) / damp, rtol=1e-12, atol=0)
            assert torch.equal(blocks[b][:n, n:], torch.zeros(n, block - n, dtype=D))
    layout = BlockLayout(sizes, 3)
    assert layout.shape == (3 + 2, 3)  # 7 → 3+3+1, 5 → 3+2: blocks never straddle tensors
    flat = torch.arange(12, dtype=D)
    assert torch.equal(layout.flat(layout.blocks(flat)), flat)
    for row, valid in zip(layout.index, layout.valid):
        tensors = {0 if i < 7 else 1 for i in row[valid].tolist()}
        assert len(tensors) == 1
