"""Mask invariant (docs/methods.md §5 oracle 2): pruned weights and optimizer state stay exactly zero."""

import copy

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from prunelab.masks import Mask, MaskedParameters, prunable_parameters
from prunelab.errors import CheckpointError, ConfigError


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


@pytest.mark.parametrize("make_opt", [
    lambda p: torch.optim.SGD(p, lr=0.05, momentum=0.9, nesterov=True, weight_decay=5e-4),
    lambda p: torch.optim.SGD(p, lr=0.05, momentum=0.9, weight_decay=5e-4),
    lambda p: torch.optim.AdamW(p, lr=1e-3, weight_decay=5e-4),
    lambda p: torch.optim.Adam(p, lr=1e-3, weight_decay=5e-4, amsgrad=True),
], ids=["sgd-nesterov", "sgd", "adamw", "adam-amsgrad"])
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
