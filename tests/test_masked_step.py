"""The Trainer's masked step masks gradients only; the weight pass after the step would change no bit.

With pruned weights, gradients and optimizer state at 0, SGD (momentum, Nesterov, weight decay), Adam (L2,
AMSGrad) and AdamW (decoupled decay) all compute an update of exactly 0 for a pruned entry, so multiplying
the weights by the mask after each step is redundant. The oracle is the explicit loop that does it anyway.
"""

import copy

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from prunelab.data.batches import EpochPlan
from prunelab.data.tensors import load_dataset
from prunelab.training.masks import Mask, MaskedParameters, prunable_parameters
from prunelab.training.schedules import iterations_per_epoch, learning_rate
from prunelab.training.single_model import Trainer, build_optimizer

TRAIN = {
    "epochs": 2,
    "batch_size": 128,
    "lr": 0.05,
    "momentum": 0.9,
    "weight_decay": 5e-4,
    "schedule": {"name": "cosine"},
    "warmup_epochs": 0.5,
}


def tiny_net():
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Conv2d(1, 4, 3), nn.BatchNorm2d(4), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 6 * 6, 10)
    ).double()


@pytest.mark.parametrize(
    "optimizer",
    [
        {"optimizer": "sgd"},
        {"optimizer": "sgd", "nesterov": True},
        {"optimizer": "adam", "lr": 1e-3},
        {"optimizer": "adamw", "lr": 1e-3, "weight_decay": 0.05},
    ],
    ids=["sgd", "nesterov", "adam", "adamw"],
)
def test_masked_trainer_equals_the_loop_that_also_masks_weights_after_each_step(optimizer):
    data = load_dataset({"name": "digits", "size": 8, "channels": 1, "validation": 100})
    for key in ("train_x", "val_x", "test_x"):
        setattr(data, key, getattr(data, key).double())
    train = {**TRAIN, **optimizer}
    model = tiny_net()
    gen = torch.Generator().manual_seed(1)
    mask = Mask({n: torch.rand(p.shape, generator=gen) < 0.3 for n, p in prunable_parameters(model).items()})
    reference = copy.deepcopy(model)

    Trainer(model, data, train, data_seed=5, label="t", mask=mask, log=lambda _: None).run()

    opt = build_optimizer(reference, train)
    masked = MaskedParameters(reference, mask)
    masked.install(opt)
    ipe = iterations_per_epoch(len(data.train_y), train["batch_size"])
    it = 0
    reference.train()
    for epoch in range(train["epochs"]):
        plan = EpochPlan.make(len(data.train_y), train["batch_size"], 5, epoch, data.augment)
        for xb, yb in plan.batches(data.train_x, data.train_y):
            for group in opt.param_groups:
                group["lr"] = learning_rate(train, it, ipe)
            loss = F.cross_entropy(reference(xb), yb)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            masked.mask_gradients()
            opt.step()
            masked.apply()
            it += 1
    for (name, a), b in zip(reference.state_dict().items(), model.state_dict().values()):
        assert torch.equal(a, b), name
    params = dict(model.named_parameters())
    for name, m in mask.items():
        assert bool((params[name].detach()[~m] == 0).all()), name
