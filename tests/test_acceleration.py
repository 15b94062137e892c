"""Speed switches: bf16 autocast, channels_last (spec) and torch.compile (runtime) in the training step."""

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from prunelab.data.tensors import load_dataset
from prunelab.errors import ConfigError
from prunelab.jobs.runtime import Runtime, runtime_environment
from prunelab.models import build_model
from prunelab.training.acceleration import TrainingStep
from prunelab.training.single_model import Trainer

TRAIN = {
    "epochs": 1,
    "batch_size": 128,
    "optimizer": "sgd",
    "lr": 0.05,
    "momentum": 0.9,
    "weight_decay": 5e-4,
    "schedule": {"name": "constant"},
}


@pytest.fixture(scope="module")
def digits8():
    return load_dataset({"name": "digits", "size": 8, "channels": 1, "validation": 100})


def lenet(seed=0):
    return build_model({"name": "lenet5"}, (1, 8, 8), 10, seed=seed)


def test_bf16_step_is_the_bf16_linear_followed_by_an_fp32_loss():
    gen = torch.Generator().manual_seed(0)
    model = nn.Linear(12, 5)
    x, y = torch.randn(7, 12, generator=gen), torch.randint(0, 5, (7,), generator=gen)
    loss = TrainingStep(model, {"precision": "bf16"})(x, y)
    reference = F.cross_entropy(F.linear(x.bfloat16(), model.weight.bfloat16(), model.bias.bfloat16()).float(), y)
    assert loss.dtype == torch.float32
    assert torch.equal(loss, reference)
    assert not torch.equal(loss, F.cross_entropy(model(x), y))  # bf16 really changed the numbers
    assert torch.equal(TrainingStep(model, {"precision": "fp32"})(x, y), F.cross_entropy(model(x), y))


def test_unknown_precision_is_one_line():
    with pytest.raises(ConfigError, match=r"train.precision='fp8' is unknown \(allowed: fp32, bf16\)"):
        TrainingStep(nn.Linear(2, 2), {"precision": "fp8"})


def train_once(data, train, **kwargs):
    model = lenet()
    Trainer(model, data, train, data_seed=1, label="x", log=lambda _: None, **kwargs).run()
    return model


def test_channels_last_trains_the_same_function_in_nhwc(digits8):
    data = digits8
    dense = train_once(data, {**TRAIN, "channels_last": False})
    nhwc = train_once(data, {**TRAIN, "channels_last": True})
    conv = nhwc.features[3].weight  # (16, 6, 5, 5): NHWC differs from NCHW
    assert conv.is_contiguous(memory_format=torch.channels_last) and not conv.is_contiguous()
    for (name, a), b in zip(dense.state_dict().items(), nhwc.state_dict().values()):
        torch.testing.assert_close(b, a, rtol=1e-4, atol=1e-5, msg=name)


def test_bf16_training_stays_close_to_fp32(digits8):
    fp32 = train_once(digits8, TRAIN)
    bf16 = train_once(digits8, {**TRAIN, "precision": "bf16"})
    weights = [(a, b) for a, b in zip(fp32.parameters(), bf16.parameters())]
    assert any(not torch.equal(a, b) for a, b in weights)
    for a, b in weights:
        torch.testing.assert_close(b, a, rtol=0.05, atol=0.01)


def test_compile_is_a_runtime_switch_carried_by_the_environment(monkeypatch):
    env = runtime_environment({"runtime": {"compile": True}})
    assert env["PRUNELAB_COMPILE"] == "True"
    monkeypatch.setenv("PRUNELAB_COMPILE", "True")
    assert Runtime.from_environment().compile is True
    monkeypatch.setenv("PRUNELAB_COMPILE", "false")
    assert Runtime.from_environment().compile is False


def compiled_vs_eager(device: str):
    data = load_dataset({"name": "digits", "size": 8, "channels": 1, "validation": 100}, device=device)
    train = {**TRAIN, "iterations": 6}
    eager = lenet().to(device)
    Trainer(eager, data, train, data_seed=1, label="eager", log=lambda _: None).run()
    compiled = lenet().to(device)
    Trainer(compiled, data, train, data_seed=1, label="compiled", log=lambda _: None, compile=True).run()
    for (name, a), b in zip(eager.state_dict().items(), compiled.state_dict().values()):
        torch.testing.assert_close(b, a, rtol=1e-4, atol=1e-5, msg=name)


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="no GPU: CUDA graphs need CUDA")
def test_compiled_step_matches_eager_on_gpu():
    compiled_vs_eager("cuda")


def test_compiled_step_matches_eager_on_cpu():
    """The same check through inductor's C++ backend (about half a minute of compilation on 2 cores)."""
    compiled_vs_eager("cpu")
