"""Grouped training: K models in lockstep give what K separate Trainer runs give (float64, tiny nets)."""

import copy

import pytest
import torch
from conftest import TickingClock

from prunelab.data.batches import EpochPlan
from prunelab.data.tensors import load_dataset
from prunelab.errors import ConfigError, DivergenceError
from prunelab.models import build_model
from prunelab.models.resnet_cifar import CifarResNet
from prunelab.training.masks import Mask, prunable_parameters
from prunelab.training.single_model import Trainer
from prunelab.training.stacked import GroupedTrainer, StackedSGD, stacked_batches, unsupported

TRAIN = {
    "epochs": 2,
    "batch_size": 128,
    "optimizer": "sgd",
    "lr": 0.05,
    "momentum": 0.9,
    "nesterov": False,
    "weight_decay": 5e-4,
    "warmup_epochs": 0.5,
    "schedule": {"name": "cosine"},
    "save_at": ["0it", "3it"],
}
SEEDS = [3, 11, 12]


@pytest.fixture(scope="module")
def digits8():
    data = load_dataset(
        {"name": "digits", "size": 8, "channels": 1, "validation": 100, "augment": {"crop_padding": 1, "flip": True}}
    )
    for key in ("train_x", "val_x", "test_x"):
        setattr(data, key, getattr(data, key).double())
    return data


def mlp(seed):
    return build_model({"name": "mlp", "widths": [16, 12]}, (1, 8, 8), 10, seed=seed).double()


def resnet8(seed):
    torch.manual_seed(seed)
    return CifarResNet(8, (1, 8, 8), 10, width=4).double()


def separate(make, data, train, seeds, masks=None):
    """The reference: one ordinary Trainer per seed."""
    models, outcomes = [], []
    for i, seed in enumerate(seeds):
        model = make(seed)
        trainer = Trainer(
            model,
            data,
            train,
            data_seed=seed,
            label=f"s{seed}",
            save_at=train["save_at"],
            mask=masks[i] if masks else None,
            log=lambda _: None,
        )
        outcomes.append(trainer.run())
        models.append(model)
    return models, outcomes


def grouped(make, data, train, seeds, masks=None, **kwargs):
    models = [make(seed) for seed in seeds]
    trainer = GroupedTrainer(
        models,
        data,
        train,
        data_seeds=seeds,
        labels=[f"s{s}" for s in seeds],
        masks=masks,
        save_at=train["save_at"],
        log=lambda _: None,
        **kwargs,
    )
    return models, trainer.run()


def assert_state_close(a: dict, b: dict, what: str):
    assert list(a) == list(b), what
    for name in a:
        if a[name].is_floating_point():
            torch.testing.assert_close(a[name], b[name], rtol=1e-9, atol=1e-11, msg=f"{what}: {name}")
        else:
            assert torch.equal(a[name], b[name]), f"{what}: {name}"


def assert_outcomes_close(ref, got):
    assert got.iterations == ref.iterations and got.epochs == ref.epochs
    assert [r["iteration"] for r in got.history] == [r["iteration"] for r in ref.history]
    for r, g in zip(ref.history, got.history):
        for key in r:
            assert g[key] == pytest.approx(r[key], rel=1e-6, abs=1e-9, nan_ok=True), key
    assert sorted(got.snapshots) == sorted(ref.snapshots) == [0, 3]
    for it in ref.snapshots:
        assert_state_close(ref.snapshots[it]["model"], got.snapshots[it]["model"], f"snapshot {it} model")
        r_opt, g_opt = ref.snapshots[it]["optimizer"], got.snapshots[it]["optimizer"]
        assert r_opt["param_groups"] == g_opt["param_groups"]
        assert sorted(r_opt["state"]) == sorted(g_opt["state"])
        for idx, entry in r_opt["state"].items():
            torch.testing.assert_close(
                entry["momentum_buffer"], g_opt["state"][idx]["momentum_buffer"], rtol=1e-9, atol=1e-11
            )


@pytest.mark.parametrize("make", [mlp, resnet8], ids=["mlp", "resnet8-batchnorm"])
def test_grouped_equals_separate_trainer_runs(make, digits8):
    ref_models, ref = separate(make, digits8, TRAIN, SEEDS)
    models, got = grouped(make, digits8, TRAIN, SEEDS)
    for seed, r_model, g_model, r, g in zip(SEEDS, ref_models, models, ref, got):
        assert_state_close(r_model.state_dict(), g_model.state_dict(), f"seed {seed} final state")
        assert_outcomes_close(r, g)
    # and the models really are different (own init, own data order)
    assert not torch.allclose(
        models[0].state_dict()["fc.weight" if make is resnet8 else "net.1.weight"],
        models[1].state_dict()["fc.weight" if make is resnet8 else "net.1.weight"],
    )


def random_masks(make, seeds, density=0.3):
    masks = []
    for seed in seeds:
        gen = torch.Generator().manual_seed(100 + seed)
        params = prunable_parameters(make(seed))
        masks.append(Mask({n: torch.rand(p.shape, generator=gen) < density for n, p in params.items()}))
    return masks


@pytest.mark.parametrize("nesterov", [False, True])
def test_masked_group_matches_masked_trainers_and_pruned_weights_stay_exactly_zero(nesterov, digits8):
    train = {**TRAIN, "nesterov": nesterov}
    masks = random_masks(resnet8, SEEDS)
    masks[1] = None  # a dense member in a masked group
    ref_models, ref = separate(resnet8, digits8, train, SEEDS, masks)
    models, got = grouped(resnet8, digits8, train, SEEDS, masks)
    for mask, r_model, g_model, r, g in zip(masks, ref_models, models, ref, got):
        assert_state_close(r_model.state_dict(), g_model.state_dict(), "final state")
        assert_outcomes_close(r, g)
        params = dict(g_model.named_parameters())
        for name, m in (mask or {}).items():
            assert torch.equal(params[name].detach()[~m], torch.zeros(int((~m).sum()), dtype=torch.float64)), name
        if mask is None:
            assert all(bool((p != 0).all()) for p in prunable_parameters(g_model).values())


@pytest.mark.parametrize("momentum,nesterov,wd", [(0.0, False, 0.0), (0.9, False, 5e-4), (0.9, True, 1e-3)])
def test_stacked_sgd_is_torch_sgd_element_for_element(momentum, nesterov, wd):
    gen = torch.Generator().manual_seed(0)
    shapes = [(3, 4), (5,), (2, 3, 3)]
    stacked = [torch.randn(2, *s, generator=gen, dtype=torch.float64) for s in shapes]
    singles = [[p[k].clone().requires_grad_() for p in stacked] for k in range(2)]
    optimizers = [torch.optim.SGD(ps, lr=0.1, momentum=momentum, nesterov=nesterov, weight_decay=wd) for ps in singles]
    sgd = StackedSGD(momentum, nesterov, wd)
    for step in range(4):
        grads = [torch.randn(p.shape, generator=gen, dtype=torch.float64) for p in stacked]
        lr = 0.1 / (step + 1)
        sgd.step(stacked, grads, lr)
        for k, (ps, opt) in enumerate(zip(singles, optimizers)):
            for p, g in zip(ps, grads):
                p.grad = g[k].clone()
            opt.param_groups[0]["lr"] = lr
            opt.step()
    for k, ps in enumerate(singles):
        for p, s in zip(ps, stacked):
            assert torch.equal(p.detach(), s[k])


def test_stacked_batches_are_the_per_model_batches(digits8):
    n = len(digits8.train_y)
    plans = [EpochPlan.make(n, 100, seed, epoch=1, augment=digits8.augment) for seed in SEEDS]
    singles = [list(p.batches(digits8.train_x, digits8.train_y, start=2)) for p in plans]
    together = list(stacked_batches(plans, digits8.train_x, digits8.train_y, start=2))
    assert len(together) == len(singles[0]) == len(plans[0]) - 2
    for b, (xb, yb) in enumerate(together):
        for k in range(len(plans)):
            assert torch.equal(xb[k], singles[k][b][0]) and torch.equal(yb[k], singles[k][b][1])


def test_interrupted_group_resumes_bit_identically(digits8, tmp_path):
    train = {**TRAIN, "epochs": 3}
    _, straight = grouped(mlp, digits8, train, SEEDS)
    models = [mlp(seed) for seed in SEEDS]

    class Killed(Exception):
        pass

    def die_in_epoch_2(line):
        if "epoch 2/" in line:
            raise Killed

    state = tmp_path / "train_state.pt"
    first = GroupedTrainer(
        models,
        digits8,
        train,
        data_seeds=SEEDS,
        labels=["a", "b", "c"],
        save_at=train["save_at"],
        state_path=state,
        log=die_in_epoch_2,
    )
    with pytest.raises(Killed):
        first.run()
    assert state.exists()
    fresh = [mlp(seed) for seed in SEEDS]
    resumed = GroupedTrainer(
        fresh,
        digits8,
        train,
        data_seeds=SEEDS,
        labels=["a", "b", "c"],
        save_at=train["save_at"],
        state_path=state,
        log=lambda _: None,
    ).run()
    for r, s in zip(resumed, straight):
        assert r.history == s.history
        for it in s.snapshots:
            assert all(torch.equal(v, r.snapshots[it]["model"][k]) for k, v in s.snapshots[it]["model"].items())
    with pytest.raises(ConfigError, match="belongs to runs"):
        GroupedTrainer(
            [mlp(0)], digits8, train, data_seeds=[0], labels=["other"], state_path=state, log=lambda _: None
        ).run()


def test_a_diverging_member_is_named(digits8):
    models = [mlp(seed) for seed in SEEDS]
    with torch.no_grad():
        models[1].net[1].weight.mul_(1e300)
    trainer = GroupedTrainer(models, digits8, TRAIN, data_seeds=SEEDS, labels=["a", "b", "c"], log=lambda _: None)
    with pytest.raises(DivergenceError, match=r"^run b: loss is nan at epoch 1, iteration 1$") as info:
        trainer.run()
    assert "run a" not in str(info.value) and "run c" not in str(info.value)


def test_a_member_recorded_as_diverged_leaves_the_others_exactly_as_without_it(digits8):
    """``on_divergence: record`` in lockstep: the bad member's error is its outcome, with its initial weights
    as the last good ones (no checkpoint yet), and the others finish bit-identical to a group without it."""
    _, without = grouped(mlp, digits8, TRAIN, [SEEDS[0], SEEDS[2]])
    models = [mlp(seed) for seed in SEEDS]
    with torch.no_grad():
        models[1].net[1].weight.mul_(1e300)
    initial = {k: v.clone() for k, v in models[1].state_dict().items()}
    messages = []
    trainer = GroupedTrainer(
        models,
        digits8,
        TRAIN,
        data_seeds=SEEDS,
        labels=[f"s{s}" for s in SEEDS],
        save_at=TRAIN["save_at"],
        on_divergence="record",
        log=messages.append,
    )
    results = trainer.run()
    assert isinstance(results[1], DivergenceError) and str(results[1]).startswith(f"run s{SEEDS[1]}: loss is nan")
    assert any("recorded as diverged" in m for m in messages)
    assert trainer.last_good.keys() == {1}
    assert all(torch.equal(trainer.last_good[1][k], v) for k, v in initial.items())
    for ref, got in zip(without, (results[0], results[2])):
        assert got.history == ref.history and got.best == ref.best
        for it in ref.snapshots:
            assert all(torch.equal(v, got.snapshots[it]["model"][k]) for k, v in ref.snapshots[it]["model"].items())


def test_a_group_resumed_from_a_mid_epoch_wall_time_checkpoint_is_bit_identical(digits8, tmp_path):
    train = {**TRAIN, "epochs": 3}
    reference, straight = grouped(mlp, digits8, train, SEEDS)
    labels = ["a", "b", "c"]
    state, copies = tmp_path / "train_state.pt", []

    class Stop(Exception):
        pass

    first = GroupedTrainer(
        [mlp(seed) for seed in SEEDS],
        digits8,
        train,
        data_seeds=SEEDS,
        labels=labels,
        save_at=train["save_at"],
        state_path=state,
        checkpoint_every="100ep",
        checkpoint_seconds=4,
        clock=TickingClock(),
        log=lambda _: None,
    )
    saved = first.checkpoints.saved

    def stop_after_a_mid_epoch_save(iteration):
        saved(iteration)
        copies.append(iteration)
        if iteration % first.ipe and iteration > first.ipe:
            raise Stop

    first.checkpoints.saved = stop_after_a_mid_epoch_save
    with pytest.raises(Stop):
        first.run()
    assert copies[-1] % first.ipe and len(copies) >= 2, copies  # saved by wall time, mid-epoch
    fresh = [mlp(seed) for seed in SEEDS]
    messages = []
    resumed = GroupedTrainer(
        fresh,
        digits8,
        train,
        data_seeds=SEEDS,
        labels=labels,
        save_at=train["save_at"],
        state_path=state,
        log=messages.append,
    ).run()
    assert any(f"resumed from {state} at iteration {copies[-1]}" in m for m in messages), messages
    for r, s, model, ref in zip(resumed, straight, fresh, reference):
        assert r.history == s.history and r.best == s.best
        assert all(torch.equal(v, ref.state_dict()[k]) for k, v in model.state_dict().items())
        for it in s.snapshots:
            assert all(torch.equal(v, r.snapshots[it]["model"][k]) for k, v in s.snapshots[it]["model"].items())


def test_what_cannot_be_grouped_is_refused_in_one_line(digits8):
    assert unsupported(TRAIN) is None
    assert "optimizer 'adam'" in unsupported({**TRAIN, "optimizer": "adam"})
    assert "channels_last" in unsupported({**TRAIN, "channels_last": True})
    with pytest.raises(ConfigError, match="cannot train grouped: optimizer 'adamw'"):
        GroupedTrainer([mlp(0)], digits8, {**TRAIN, "optimizer": "adamw"}, data_seeds=[0], labels=["x"])


def test_bf16_group_tracks_bf16_trainers(digits8):
    """bf16 autocast rounds differently in a grouped and a single conv, so only closeness is expected."""
    data = copy.copy(digits8)
    for key in ("train_x", "val_x", "test_x"):
        setattr(data, key, getattr(digits8, key).float())
    train = {**TRAIN, "precision": "bf16", "epochs": 1}
    make = lambda seed: resnet8(seed).float()  # noqa: E731
    ref_models, _ = separate(make, data, train, SEEDS[:2])
    models, _ = grouped(make, data, train, SEEDS[:2])
    for r, g in zip(ref_models, models):
        torch.testing.assert_close(g.fc.weight, r.fc.weight, rtol=0.05, atol=0.02)
