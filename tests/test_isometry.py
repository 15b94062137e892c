"""Jacobian singular values, OrthP and masked approximate isometry (docs/methods.md §5 oracle 15), and the
structured L1 neuron/filter selector of Wang et al.'s JSV study."""

import copy
import math

import pytest
import torch

from prunelab.branch_types.isometry import approximate_isometry_, isometry_gap, orthogonalize, orthp_
from prunelab.errors import ConfigError, PrunelabError
from prunelab.metrics.jsv import jacobian_singular_values, measure, summarize
from prunelab.models import build_model
from prunelab.models.lenet import LeNet5Caffe
from prunelab.models.mlp import MLP
from prunelab.pruning import resolve_hparams
from prunelab.pruning.l1_filter import units_to_prune
from prunelab.pruning.multistep import run_method
from prunelab.training.masks import Mask, prunable_parameters


def linear_mlp(widths, inputs, classes, seed=0):
    torch.manual_seed(seed)
    return MLP((inputs,), widths, classes, "linear").double()


def some_batches(inputs, n=2, size=3, seed=0):
    gen = torch.Generator().manual_seed(seed)
    return [(torch.randn(size, inputs, generator=gen, dtype=torch.float64), None) for _ in range(n)]


def product(model):
    weights = [p.detach() for n, p in model.named_parameters() if n.endswith("weight")]
    out = weights[0]
    for w in weights[1:]:
        out = w @ out
    return out


def test_linear_mlp_jsvs_equal_singular_values_of_the_weight_product():
    model = linear_mlp([7, 6], 9, 4)
    values = jacobian_singular_values(model, some_batches(9))
    reference = torch.linalg.svdvals(product(model))
    assert values.shape == (6, 4)
    torch.testing.assert_close(values, reference.expand(6, -1), rtol=0, atol=1e-10)


def test_jsvs_of_a_conv_net_match_a_per_example_jacobian():
    torch.manual_seed(0)
    model = build_model({"name": "lenet5"}, (1, 28, 28), 10, seed=0).double()
    x = torch.randn(2, 1, 28, 28, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    values = jacobian_singular_values(model, [(x, None)])
    for i in range(2):
        jac = torch.autograd.functional.jacobian(lambda t: model.eval()(t.unsqueeze(0))[0], x[i])
        torch.testing.assert_close(values[i], torch.linalg.svdvals(jac.reshape(10, -1)), rtol=1e-10, atol=1e-12)


def test_summary_statistics():
    stats = summarize(torch.tensor([[4.0, 1.0], [2.0, 2.0]]))
    assert stats == {
        "jsv_mean": 2.25,
        "jsv_std": math.sqrt(1.1875),
        "jsv_max": 4.0,
        "jsv_min": 1.0,
        "jsv_condition_mean": 2.5,
    }


def test_orthp_makes_every_jsv_one_for_nonincreasing_widths():
    model = linear_mlp([8, 6, 5], 10, 4)
    orthp_(model, "linear")
    stats = measure(model, some_batches(10))
    assert abs(stats["jsv_max"] - 1) < 1e-6 and abs(stats["jsv_min"] - 1) < 1e-6


@pytest.mark.parametrize("shape", [(3, 7), (7, 3), (5, 5), (4, 2, 3, 3), (30, 2, 2, 2)])
def test_orthp_output_has_orthonormal_rows_or_columns(shape):
    w = torch.randn(shape, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    q = orthogonalize(w).reshape(shape[0], -1)
    small = min(q.shape)
    gram = q @ q.T if q.shape[0] <= q.shape[1] else q.T @ q
    torch.testing.assert_close(gram, torch.eye(small, dtype=torch.float64), rtol=0, atol=1e-12)
    relu = orthogonalize(w, math.sqrt(2)).reshape(shape[0], -1)
    torch.testing.assert_close(relu, math.sqrt(2) * q, rtol=0, atol=1e-12)


@pytest.mark.parametrize("rows,cols", [(3, 7), (7, 3), (4, 4)])
def test_orthp_with_gain_one_leaves_orthonormal_weights_unchanged(rows, cols):
    gen = torch.Generator().manual_seed(2)
    q, _ = torch.linalg.qr(torch.randn(max(rows, cols), min(rows, cols), generator=gen, dtype=torch.float64))
    q = q * torch.tensor([1.0, -1.0] * cols, dtype=torch.float64)[: q.shape[1]]  # arbitrary column signs
    w = q if rows >= cols else q.T
    torch.testing.assert_close(orthogonalize(w, 1.0), w, rtol=0, atol=1e-12)


def test_masked_approximate_isometry_keeps_pruned_entries_zero_and_closes_the_gap():
    model = linear_mlp([6], 8, 4)
    params = prunable_parameters(model)
    gen = torch.Generator().manual_seed(3)
    mask = Mask({n: torch.rand(p.shape, generator=gen) > 0.4 for n, p in params.items()})
    with torch.no_grad():
        for n, p in params.items():
            p.mul_(mask[n])
    gaps = approximate_isometry_(model, mask, iterations=300, lr=1e-2)
    for n, p in params.items():
        assert bool((p.detach()[~mask[n]] == 0).all())
        before, after = gaps[n]
        assert after < before
        assert math.isclose(after, isometry_gap(p), rel_tol=1e-12)


def lenet(seed=0):
    return build_model({"name": "lenet_300_100"}, (1, 28, 28), 10, seed=seed)


@pytest.mark.parametrize("pr", [0.5, 0.9])
def test_l1_filter_removes_units_and_next_layer_columns(pr):
    model = lenet()
    outcome = run_method(model, "l1_filter", resolve_hparams("l1_filter", {}), pr)
    r0, r1 = units_to_prune(pr, 300), units_to_prune(pr, 100)
    expected = r0 * 784 + (r1 * 300 + r0 * 100 - r1 * r0) + r1 * 10
    mask = outcome.mask
    assert mask.total - mask.kept == expected
    w0 = model.net[1].weight.detach()
    removed0 = (~mask["net.1.weight"]).all(1)
    norms = w0.abs().sum(1)
    assert int(removed0.sum()) == r0 and float(norms[removed0].max()) <= float(norms[~removed0].min())
    assert torch.equal((~mask["net.3.weight"]).all(0), removed0)
    assert bool(mask["net.5.weight"].any(1).all())  # the classifier keeps all its outputs


def test_l1_filter_count_follows_wangs_ceil():
    assert units_to_prune(0.25, 10) == 3  # ⌈2.5⌉: rounds up, as Wang's pruner does
    assert units_to_prune(0.5, 100) == 50 and units_to_prune(0.999, 100) == 99  # never all units
    assert units_to_prune(0, 7) == 0


def test_l1_filter_mask_computes_the_compacted_net():
    torch.manual_seed(0)
    model = MLP((6,), [5, 4], 3, "relu").double()
    outcome = run_method(model, "l1_filter", resolve_hparams("l1_filter", {}), 0.4)
    keep0 = outcome.mask["net.1.weight"].any(1)
    keep1 = outcome.mask["net.3.weight"].any(1)
    small = MLP((6,), [int(keep0.sum()), int(keep1.sum())], 3, "relu").double()
    rows, cols = [keep0, keep1, slice(None)], [slice(None), keep0, keep1]
    with torch.no_grad():
        for layer, r, c in zip((1, 3, 5), rows, cols):
            small.net[layer].weight.copy_(model.net[layer].weight[r][:, c])
            small.net[layer].bias.copy_(model.net[layer].bias[r])
    x = torch.randn(4, 6, dtype=torch.float64)
    torch.testing.assert_close(outcome.model(x), small(x), rtol=0, atol=1e-12)


def test_l1_filter_conv_to_linear_removes_whole_feature_blocks():
    model = LeNet5Caffe((1, 28, 28), 10)
    outcome = run_method(model, "l1_filter", resolve_hparams("l1_filter", {"layers": [1]}), 0.5)
    removed = (~outcome.mask["features.3.weight"]).flatten(1).all(1)
    assert int(removed.sum()) == 25
    columns = (~outcome.mask["classifier.0.weight"]).all(0).view(50, 16)
    assert torch.equal(columns.all(1), removed) and not bool(columns[~removed].any())


def test_l1_filter_rejects_the_last_layer():
    with pytest.raises(ConfigError, match="l1_filter hparams.layers"):
        run_method(lenet(), "l1_filter", resolve_hparams("l1_filter", {"layers": [2]}), 0.5)
    with pytest.raises(
        ConfigError, match=r"hparams\.layers: 'all' is not of type 'array', 'null' \(method 'l1_filter'\)"
    ):
        resolve_hparams("l1_filter", {"layers": "all"})


def test_orthp_on_a_structured_mask_orthogonalises_the_kept_block():
    torch.manual_seed(0)
    model = MLP((12,), [10, 8], 4, "linear").double()
    outcome = run_method(model, "l1_filter", resolve_hparams("l1_filter", {}), 0.5)
    pruned = outcome.model
    orthp_(pruned, "linear", outcome.mask)
    for name, p in prunable_parameters(pruned).items():
        keep = outcome.mask[name]
        assert bool((p.detach()[~keep] == 0).all())
        block = p.detach()[keep.any(1)][:, keep.any(0)]
        gram = block @ block.T if block.shape[0] <= block.shape[1] else block.T @ block
        torch.testing.assert_close(gram, torch.eye(min(block.shape), dtype=torch.float64), rtol=0, atol=1e-12)
    x = torch.randn(3, 12, dtype=torch.float64)
    stats = measure(pruned, [(x, None)])
    assert abs(stats["jsv_max"] - 1) < 1e-6 and abs(stats["jsv_min"] - 1) < 1e-6


def test_orthp_rejects_an_unstructured_mask():
    model = linear_mlp([6], 8, 4)
    mask = Mask.ones_like(prunable_parameters(model))
    mask["net.1.weight"][0, 0] = False
    with pytest.raises(PrunelabError, match="structured"):
        orthp_(copy.deepcopy(model), "linear", mask)
    with pytest.raises(ConfigError, match="nonlinearity"):
        orthp_(model, "swish")


def test_a_branch_with_orthp_records_the_jsv_after_recovery_on_its_prune_runs_batches(tmp_path):
    """Wang's code logs the JSV after OrthP; the branch records it beside the prune run's JSV right after
    pruning. A linear MLP-7 at pr 0.5 on 8×8 inputs has non-increasing kept widths (64, 50, …, 50, 10), so
    after OrthP every singular value is 1, while right after pruning they are not."""
    import json

    from prunelab.config.validation import validate_config
    from prunelab.jobs.kinds import run_branch, run_dense, run_prune
    from prunelab.jobs.runtime import Runtime
    from prunelab.plan.build import build_plan

    config = {
        "dense": {
            "mlp7": {
                "dataset": {"name": "digits", "size": 8, "channels": 1, "validation": 100},
                "model": {"name": "mlp7", "activation": "linear"},
                "train": {"epochs": 1, "batch_size": 128, "lr": 0.01},
            }
        },
        "pruning": {"l1": {"method": "l1_filter", "jsv": {"batches": 1, "batch_size": 20}}},
        "branches": {
            "ft_orthp": {"type": "finetune", "train": {"epochs": 1, "lr": 0.001}, "isometry": {"method": "orthp"}}
        },
        "experiments": {"e": {"dense": ["mlp7"], "pruning": ["l1"], "sparsities": [0.5], "branches": ["ft_orthp"]}},
    }
    plan = build_plan(validate_config(config))
    rt = Runtime(results=tmp_path, device="cpu", threads=1)
    for kind, run in (("dense", run_dense), ("prune", run_prune), ("branch", run_branch)):
        for run_hash in plan.hashes(kind):
            run(plan.specs[run_hash], tmp_path / "runs" / kind / run_hash, rt, log=lambda m: None)
    (prune_hash,), (branch_hash,) = plan.hashes("prune"), plan.hashes("branch")
    pruned = json.loads((tmp_path / "runs" / "prune" / prune_hash / "metrics.json").read_text())["jsv"]
    after = json.loads((tmp_path / "runs" / "branch" / branch_hash / "metrics.json").read_text())
    after = after["notes"]["isometry"]["jsv"]
    assert set(after) == set(pruned)
    assert abs(after["jsv_max"] - 1) < 1e-5 and abs(after["jsv_min"] - 1) < 1e-5
    assert abs(pruned["jsv_mean"] - 1) > 0.05
