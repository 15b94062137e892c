"""Structured L1-norm neuron/filter pruning (Li et al. 2017) as Wang et al. use it for their JSV study.

docs/methods.md §2.10. In every pruned layer, the output units (Linear rows, Conv filters) with the smallest
incoming L1 norm are removed, and so are the matching inputs of the next prunable layer. prunelab keeps the
dense architecture and expresses this as an unstructured Mask: the removed rows of W_l and the matching
input columns of W_{l+1} (for a Conv→Linear step, the block of flattened features of each removed filter)
are pruned. The masked net computes exactly what the compacted net computes: a removed unit still emits
its bias (through BatchNorm and the activation), but only into zeroed weights.

For this method the run's ``sparsity`` is Wang's per-layer unit ratio pr, not a weight fraction (the mask
report gives the resulting weight sparsity). The count follows Wang's code: ⌈pr·n⌉ units, at most n − 1
(the same as keeping ⌊(1−pr)·n⌋, Liu's rule, except that one unit always survives). ``layers`` lists the
pruned tensors by index in the prunable-tensor order; the default prunes every layer but the last (Wang's
``[0-5:pr, 6:0]`` for MLP-7). Units pruned by an earlier mask have norm 0 and go first, so masks stay
nested. Only plain chains are supported: each pruned layer's outputs must be exactly the next prunable
layer's inputs (MLPs, LeNets, VGG), not residual blocks.
"""

from __future__ import annotations

import math

import torch

from prunelab.errors import ConfigError
from prunelab.pruning.base import PruneContext
from prunelab.training.masks import Mask


def units_to_prune(pr: float, units: int) -> int:
    """Wang's count: min(⌈pr·n⌉, n − 1), and none for pr = 0."""
    return 0 if pr == 0 else min(math.ceil(pr * units), units - 1)


def smallest_units(weight: torch.Tensor, count: int) -> torch.Tensor:
    """Indices of the ``count`` output units with the smallest incoming L1 norm (ties: lower index first)."""
    norms = weight.detach().abs().reshape(weight.shape[0], -1).sum(1)
    return torch.sort(norms, stable=True).indices[:count]


def _input_columns(
    weight: torch.Tensor, previous: torch.Tensor, units: torch.Tensor, names: tuple[str, str]
) -> torch.Tensor:
    """Bool mask over ``weight``'s input dimension: True at the inputs fed by the removed ``units``."""
    fan_in, produced = weight.shape[1], previous.shape[0]
    columns = torch.zeros(fan_in, dtype=torch.bool, device=weight.device)
    if weight.dim() == 2 and previous.dim() == 4 and fan_in % produced == 0:
        block = fan_in // produced  # Conv → Linear: each filter's flattened feature map
        columns.view(produced, block)[units] = True
    elif fan_in == produced:
        columns[units] = True
    else:
        raise ConfigError(
            f"l1_filter: {names[1]} has {fan_in} inputs but {names[0]} has {produced} outputs; "
            f"only plain chains of layers are supported"
        )
    return columns


def prune(ctx: PruneContext, layers: list[int] | None) -> tuple[Mask, None]:
    names = list(ctx.params)
    chosen = list(range(len(names) - 1)) if layers is None else list(layers)
    if any(i < 0 or i >= len(names) - 1 for i in chosen):
        raise ConfigError(
            f"l1_filter hparams.layers={layers}: indices must be in [0, {len(names) - 2}] (the "
            f"{len(names)} prunable tensors minus the last, whose inputs absorb the pruning)"
        )
    keep = {n: ctx.mask[n].clone() for n in names}
    for i in sorted(set(chosen)):
        name, following = names[i], names[i + 1]
        weight = ctx.params[name]
        units = smallest_units(weight, units_to_prune(ctx.sparsity, weight.shape[0]))
        keep[name][units] = False
        columns = _input_columns(ctx.params[following], weight, units, (name, following))
        keep[following][:, columns] = False
    return Mask(keep), None
