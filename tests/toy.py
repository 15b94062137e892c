"""Tiny float64 networks and datasets shared by the scorer oracles."""

from __future__ import annotations

import torch
from torch import nn

from prunelab.data.tensors import TensorData
from prunelab.models.mlp import MLP
from prunelab.pruning.base import PruneContext
from prunelab.training.masks import Mask, prunable_parameters


def mlp(widths=(4,), inputs=5, classes=3, act="tanh", seed=0) -> nn.Module:
    torch.manual_seed(seed)
    return MLP((inputs,), list(widths), classes, act).double()


def toy_data(inputs=5, classes=3, n_train=60, n_val=20, seed=0) -> TensorData:
    gen = torch.Generator().manual_seed(seed)

    def split(n):
        return torch.randn(n, inputs, generator=gen, dtype=torch.float64), torch.randint(
            0, classes, (n,), generator=gen
        )

    (tx, ty), (vx, vy), (sx, sy) = split(n_train), split(n_val), split(n_val)
    return TensorData(name="toy", train_x=tx, train_y=ty, val_x=vx, val_y=vy, test_x=sx, test_y=sy, num_classes=classes)


def context(
    model, *, sparsity=0.5, seed=0, data=None, batches=(), scope="global", at_init=False, mask=None
) -> PruneContext:
    params = prunable_parameters(model)
    return PruneContext(
        model=model,
        params=params,
        mask=mask or Mask.ones_like(params),
        sparsity=sparsity,
        scope=scope,
        generator=torch.Generator().manual_seed(seed),
        batches=list(batches),
        data=data,
        at_init=at_init,
    )
