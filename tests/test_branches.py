"""Branch oracles (docs/methods.md §5 oracles 6 and 16): rewinding is bit-exact, masks stay nested and exact,
Scratch-B stretches by the FLOPs ratio, LR schedules are the documented ones, pruned weights stay zero."""

import copy
import math

import pytest
import torch
from torch import nn

from prunelab.branch_types.catalog.scratch_b import stretched as scratch_b_train
from prunelab.branch_types.starts import branch_start, sparse_scaled_init_
from prunelab.errors import CheckpointError, ConfigError
from prunelab.metrics.flops import count
from prunelab.models import build_model
from prunelab.pruning.multistep import run_method
from prunelab.pruning.select import prune_count
from prunelab.training.masks import Mask, prunable_parameters
from prunelab.training.schedules import learning_rate
from prunelab.training.single_model import Trainer

TRAIN = {
    "epochs": 3,
    "batch_size": 128,
    "lr": 0.05,
    "momentum": 0.9,
    "nesterov": False,
    "weight_decay": 1e-4,
    "schedule": {"name": "step", "milestones": [2], "gamma": 0.1},
    "warmup_epochs": 0,
}
DENSE_SPEC = {"model": {"name": "lenet_300_100"}, "seed": {"init": 0, "data": 0}}


@pytest.fixture(scope="module")
def dense_run(digits28):
    """A short dense run with snapshots at 0, 1 epoch and 15 iterations (optimizer state included)."""
    model = build_model(DENSE_SPEC["model"], digits28.input_shape, 10, seed=0)
    out = Trainer(
        model, digits28, TRAIN, data_seed=0, label="dense", save_at=["0it", "1ep", "15it"], log=lambda m: None
    ).run()
    return model, out


def branch(kind, rewind=None, optimizer_state="fresh", train=TRAIN):
    return {
        "type": kind,
        "rewind": rewind,
        "train": copy.deepcopy(train),
        "optimizer_state": optimizer_state,
        "seed": {"init": 1_000_003, "data": 0},
    }


def run_branch(data, spec, mask, pruned, snapshots):
    start = branch_start(spec, DENSE_SPEC, data, mask, pruned, snapshots)
    model = build_model(DENSE_SPEC["model"], data.input_shape, 10, seed=0)
    model.load_state_dict(start.state)
    out = Trainer(
        model,
        data,
        start.train,
        data_seed=0,
        label="b",
        mask=mask,
        start_iteration=start.start_iteration,
        optimizer_state=start.optimizer_state,
        log=lambda m: None,
    ).run()
    return model, out, start


def all_ones(model):
    return Mask.ones_like(prunable_parameters(model))


@pytest.mark.parametrize("rewind,opt_state", [("0it", "fresh"), ("15it", "rewind"), ("1ep", "rewind")])
def test_level_zero_rewind_reproduces_the_dense_run_bit_for_bit(digits28, dense_run, rewind, opt_state):
    dense, out = dense_run
    mask = all_ones(dense)
    model, _, start = run_branch(
        digits28, branch("rewind_weights", rewind, opt_state), mask, dense.state_dict(), out.snapshots
    )
    ipe = -(-len(digits28.train_y) // TRAIN["batch_size"])
    assert start.start_iteration == {"0it": 0, "15it": 15, "1ep": ipe}[rewind]
    for (name, a), b in zip(dense.state_dict().items(), model.state_dict().values()):
        assert torch.equal(a, b), name


def test_rewound_weights_are_theta_k_times_mask(digits28, dense_run):
    dense, out = dense_run
    mask = run_method(dense, "magnitude", {}, 0.8).mask
    for kind, k in (("rewind_weights", "1ep"), ("lottery", "0it")):
        start = branch_start(branch(kind, k), DENSE_SPEC, digits28, mask, {}, out.snapshots)
        model = build_model(DENSE_SPEC["model"], digits28.input_shape, 10, seed=0)
        model.load_state_dict(start.state)
        from prunelab.training.masks import MaskedParameters

        MaskedParameters(model, mask).install()
        ipe = -(-len(digits28.train_y) // TRAIN["batch_size"])
        snap = out.snapshots[{"1ep": ipe, "0it": 0}[k]]["model"]
        for name, p in model.state_dict().items():
            expected = snap[name] * mask[name] if name in mask else snap[name]
            assert torch.equal(p, expected), name


def test_lr_rewinding_replays_the_schedule_from_k_and_finetune_is_constant(digits28, dense_run):
    dense, out = dense_run
    mask = run_method(dense, "magnitude", {}, 0.5).mask
    pruned = {k: v * mask[k] if k in mask else v for k, v in dense.state_dict().items()}
    ipe = -(-len(digits28.train_y) // TRAIN["batch_size"])
    _, res, start = run_branch(digits28, branch("rewind_lr", "15it"), mask, pruned, out.snapshots)
    assert start.start_iteration == 15 and res.iterations == 3 * ipe
    assert [row["iteration"] for row in res.history] == [2 * ipe, 3 * ipe]
    assert [row["lr"] for row in res.history] == [learning_rate(TRAIN, it - 1, ipe) for it in (2 * ipe, 3 * ipe)]
    assert learning_rate(TRAIN, 2 * ipe - 1, ipe) == 0.05 and learning_rate(TRAIN, 2 * ipe, ipe) == pytest.approx(
        0.005, rel=1e-12
    )
    ft = {**TRAIN, "schedule": {"name": "constant"}, "lr": 0.001, "epochs": 2}
    _, res, _ = run_branch(digits28, branch("finetune", train=ft), mask, pruned, out.snapshots)
    assert [row["lr"] for row in res.history] == [0.001, 0.001]


@pytest.mark.parametrize(
    "kind", ["finetune", "rewind_weights", "rewind_lr", "lottery", "reinit", "scratch_e", "scratch_b"]
)
def test_pruned_weights_stay_exactly_zero_in_every_branch(digits28, dense_run, kind):
    dense, out = dense_run
    mask = run_method(dense, "magnitude", {}, 0.9).mask
    pruned = {k: v * mask[k] if k in mask else v for k, v in dense.state_dict().items()}
    rewind = {"rewind_weights": "1ep", "rewind_lr": "1ep", "lottery": "0it"}.get(kind)
    train = {**TRAIN, "epochs": 1, "schedule": {"name": "constant"}} if kind == "scratch_b" else TRAIN
    model, res, _ = run_branch(digits28, branch(kind, rewind, train=train), mask, pruned, out.snapshots)
    params = dict(model.named_parameters())
    for name, m in mask.items():
        assert torch.equal(params[name][~m], torch.zeros(int((~m).sum())))
    assert res.final["test_acc"] > 10.0


def test_reinit_and_scratch_use_a_new_seed(digits28, dense_run):
    dense, out = dense_run
    mask = run_method(dense, "magnitude", {}, 0.5).mask
    a = branch_start(branch("reinit"), DENSE_SPEC, digits28, mask, {}, None).state
    assert not torch.equal(a["net.1.weight"], out.snapshots[0]["model"]["net.1.weight"])


def test_sparse_scaled_init_std():
    net = nn.Sequential(nn.Conv2d(16, 32, 3, bias=False))
    gen = torch.Generator().manual_seed(0)
    mask = Mask({"0.weight": torch.rand(32, 16, 3, 3, generator=gen) < 0.25})
    torch.manual_seed(0)
    sparse_scaled_init_(net, mask)
    nnz = int(mask["0.weight"].sum())
    std = float(net[0].weight.detach().std())
    assert std == pytest.approx(math.sqrt(2 * 16 / nnz), rel=0.03)


def test_scratch_b_epochs_and_milestones_follow_the_flops_ratio():
    train = {"epochs": 160, "schedule": {"name": "step", "milestones": [80, 120], "gamma": 0.1}}
    out, notes = scratch_b_train(train, dense_ops=1_000_000, pruned_ops=864_745)  # ratio 1.1564...
    e_b = math.floor(160 * 1_000_000 / 864_745)
    assert out["epochs"] == e_b == 185
    assert out["schedule"]["milestones"] == [math.floor(0.5 * e_b), math.floor(0.75 * e_b)]
    assert notes["scratch_b_epochs"] == e_b
    with pytest.raises(ConfigError, match="train.epochs"):
        scratch_b_train({"iterations": 100, "epochs": 1}, 1, 1)


def test_scratch_b_in_branch_start_uses_the_mask_flops(digits28, dense_run):
    dense, out = dense_run
    mask = run_method(dense, "magnitude", {}, 0.75).mask
    start = branch_start(branch("scratch_b"), DENSE_SPEC, digits28, mask, {}, None)
    ratio = count(dense, digits28.input_shape)["ops"] / count(dense, digits28.input_shape, mask)["ops"]
    assert start.train["epochs"] == math.floor(3 * ratio) and start.notes["flops_ratio"] == pytest.approx(ratio)


def test_missing_rewind_checkpoint_names_the_iteration_and_the_config_key(digits28, dense_run):
    dense, out = dense_run
    snapshots = {0: out.snapshots[0]}
    with pytest.raises(CheckpointError, match=r"iteration 11 \(1ep\).*train.save_at"):
        branch_start(branch("rewind_weights", "1ep"), DENSE_SPEC, digits28, all_ones(dense), {}, snapshots)
    with pytest.raises(ConfigError, match="past the end of training"):
        branch_start(branch("rewind_weights", "5ep"), DENSE_SPEC, digits28, all_ones(dense), {}, out.snapshots)


def test_imp_masks_are_nested_with_exact_cumulative_counts(dense_run):
    dense, _ = dense_run
    model = copy.deepcopy(dense)
    previous = None
    n = sum(p.numel() for p in prunable_parameters(model).values())
    for level in range(1, 5):
        out = run_method(model, "magnitude", {}, 1 - 0.8**level, previous=previous)
        assert (
            out.mask.total - out.mask.kept == prune_count(1 - 0.8**level, n) == math.floor((1 - 0.8**level) * n + 0.5)
        )
        if previous is not None:
            assert all(not (out.mask[k] & ~previous[k]).any() for k in out.mask)
        previous = out.mask
        with torch.no_grad():  # stand-in for retraining between levels: perturb the survivors
            for name, p in prunable_parameters(model).items():
                p.add_(0.01 * torch.randn_like(p)).mul_(out.mask[name])


@pytest.mark.parametrize("method,pruning", [("orthp", "l1_filter"), ("ai", "magnitude")])
def test_isometry_recovery_keeps_the_mask_and_closes_the_gap(method, pruning):
    from prunelab.branch_types.starts import restore_isometry

    model = build_model({"name": "mlp7", "activation": "linear"}, (1, 8, 8), 10, seed=0)
    mask = run_method(model, pruning, {"layers": None} if pruning == "l1_filter" else {}, 0.5).mask
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name in mask:
                p.mul_(mask[name])
    report = restore_isometry(model, mask, {"method": method, "iterations": 300, "lr": 0.01}, {"activation": "linear"})
    params = dict(model.named_parameters())
    for name, m in mask.items():
        assert torch.equal(params[name][~m], torch.zeros(int((~m).sum())))
        assert report["gap_after"][name] < report["gap_before"][name]
        if method == "orthp":
            assert report["gap_after"][name] < 1e-5
