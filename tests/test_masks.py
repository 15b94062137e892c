"""Mask invariant (docs/methods.md §5 oracle 2): pruned weights and optimizer state stay exactly zero."""

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from prunelab.errors import CheckpointError, ConfigError
from prunelab.training.masks import Mask, MaskedParameters, prunable_parameters


def tiny_net():
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(1, 4, 3), nn.BatchNorm2d(4), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 6 * 6, 10))


def random_mask(model, density=0.4, seed=1):
    gen = torch.Generator().manual_seed(seed)
    return Mask({n: torch.rand(p.shape, generator=gen) < density for n, p in prunable_parameters(model).items()})


def test_prunable_parameters_are_conv_and_linear_weights_only():
    assert list(prunable_parameters(tiny_net())) == ["0.weight", "4.weight"]
    assert list(prunable_parameters(tiny_net(), exclude=["4.weight"])) == ["0.weight"]
    with pytest.raises(ConfigError, match="unknown parameters"):
        prunable_parameters(tiny_net(), exclude=["4.bias"])


@pytest.mark.parametrize(
    "make_opt",
    [
        lambda p: torch.optim.SGD(p, lr=0.05, momentum=0.9, nesterov=True, weight_decay=5e-4),
        lambda p: torch.optim.SGD(p, lr=0.05, momentum=0.9, weight_decay=5e-4),
        lambda p: torch.optim.AdamW(p, lr=1e-3, weight_decay=5e-4),
        lambda p: torch.optim.Adam(p, lr=1e-3, weight_decay=5e-4, amsgrad=True),
    ],
    ids=["sgd-nesterov", "sgd", "adamw", "adam-amsgrad"],
)
def test_pruned_entries_stay_zero_and_kept_weights_match_explicit_masking(make_opt):
    gen = torch.Generator().manual_seed(0)
    xs = [torch.randn(8, 1, 8, 8, generator=gen) for _ in range(50)]
    ys = [torch.randint(0, 10, (8,), generator=gen) for _ in range(50)]
    model, reference = tiny_net(), tiny_net()
    mask = random_mask(model)
    # one warm-up step without a mask so that the optimizer state is non-zero when the mask is installed
    opt, ref_opt = make_opt(model.parameters()), make_opt(reference.parameters())
    for net, o in ((model, opt), (reference, ref_opt)):
        F.cross_entropy(net(xs[0]), ys[0]).backward()
        o.step()
        o.zero_grad()
    masked = MaskedParameters(model, mask)
    masked.install(opt)
    ref_params = dict(reference.named_parameters())
    with torch.no_grad():  # reference: explicit masking written out by hand
        for name, m in mask.items():
            ref_params[name].mul_(m)
            for buf in ref_opt.state[ref_params[name]].values():
                if isinstance(buf, torch.Tensor) and buf.shape == m.shape:
                    buf.mul_(m)
    for x, y in zip(xs, ys):
        opt.zero_grad()
        F.cross_entropy(model(x), y).backward()
        masked.mask_gradients()
        opt.step()
        masked.apply()
        ref_opt.zero_grad()
        F.cross_entropy(reference(x), y).backward()
        for name, m in mask.items():
            ref_params[name].grad.mul_(m)
        ref_opt.step()
        with torch.no_grad():
            for name, m in mask.items():
                ref_params[name].mul_(m)
    params = dict(model.named_parameters())
    for name, m in mask.items():
        p = params[name]
        assert torch.equal(p[~m], torch.zeros_like(p[~m]))
        for key, buf in opt.state[p].items():
            if isinstance(buf, torch.Tensor) and buf.shape == p.shape:
                assert torch.equal(buf[~m], torch.zeros_like(buf[~m])), key
        assert torch.equal(p, ref_params[name])
    masked.assert_invariant("end of test")


def test_mask_report_counts(tmp_path):
    model = tiny_net()
    mask = random_mask(model)
    report = mask.report()
    assert report["total"] == 36 + 1440
    assert report["kept"] == sum(int(m.sum()) for m in mask.values())
    assert report["layers"]["0.weight"]["total"] == 36


def test_save_load_roundtrip_and_corruption(tmp_path):
    mask = random_mask(tiny_net())
    mask.save(tmp_path / "mask.pt")
    loaded = Mask.load(tmp_path / "mask.pt")
    assert all(torch.equal(loaded[n], mask[n]) for n in mask)
    data = (tmp_path / "mask.pt").read_bytes()
    (tmp_path / "bad.pt").write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match=r"bad\.pt: corrupt or truncated.*rule 'prune'"):
        Mask.load(tmp_path / "bad.pt")


def test_shape_mismatch_is_named():
    model = tiny_net()
    mask = random_mask(model)
    mask["0.weight"] = mask["0.weight"][:2]
    with pytest.raises(CheckpointError, match="0.weight has shape"):
        mask.check_matches(model)


def test_the_mask_applies_itself_to_named_tensors_views_and_state_dicts():
    model = tiny_net()
    mask = random_mask(model)
    state = {k: v.clone() for k, v in model.state_dict().items()}
    applied = mask.applied(state)
    for name, value in state.items():
        expected = value * mask[name] if name in mask else value
        assert torch.equal(applied[name], expected), name
    params = prunable_parameters(model)
    view = params["4.weight"].detach().clone().reshape(10, -1, 6)  # another shape of the same entries
    mask.apply_({"4.weight": view, "4.bias": torch.ones(10)})  # a name the mask does not cover is left alone
    assert torch.equal(view.reshape(10, -1), applied["4.weight"])
    mask.apply_(params)
    assert all(torch.equal(p.detach(), applied[n]) for n, p in params.items())


def test_stacked_masks_do_for_each_member_what_its_own_mask_does():
    models = [tiny_net() for _ in range(3)]
    masks = [random_mask(models[0], seed=1), None, random_mask(models[0], seed=2)]
    stacked = {
        n: torch.stack([dict(m.named_parameters())[n].detach() for m in models])
        for n, _ in models[0].named_parameters()
    }
    for p in stacked.values():
        p.grad = torch.ones_like(p)
    masked = MaskedParameters.stacked(stacked, masks, "group")
    masked.install()
    masked.mask_gradients()
    for k, (model, mask) in enumerate(zip(models, masks)):
        single = dict(model.named_parameters())
        if mask is not None:
            MaskedParameters(model, mask).install()
        for name, p in single.items():
            assert torch.equal(stacked[name][k], p.detach()), (k, name)
            expected = mask.factor(name, p) if mask is not None and name in mask else torch.ones_like(p)
            assert torch.equal(stacked[name].grad[k], expected), (k, name)
    masked.assert_invariant("after install")
    stacked["0.weight"].data[2][~masks[2]["0.weight"]] = 1.0
    masked.assert_invariant("member 2 left out", members=[0, 1])
    with pytest.raises(RuntimeError, match="0.weight has non-zero pruned weights"):
        masked.assert_invariant("all members")
    with pytest.raises(CheckpointError, match="group: mask for 0.weight has shape"):
        MaskedParameters.stacked({"0.weight": stacked["0.weight"][:, :2]}, masks, "group")
