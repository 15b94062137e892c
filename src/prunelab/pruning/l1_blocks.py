"""Structured L1-norm filter pruning inside residual blocks (Li et al. 2017, as Liu et al. 2019 rerun it).

docs/methods.md §4.1. In a residual block only the first conv's filters can go without touching the shortcut:
the filters with the smallest L1 norm of conv1 are removed together with the matching input channels of
conv2. Convs are numbered from 1 (the stem) in network order, counting the blocks' own convs (``conv1``,
``conv2``, …) and not the 1×1 projection shortcuts, as Liu's ImageNet code does; with two convs per block,
block b (0-based) has its conv1 at id 2 + 2b (Liu's even ids). A stage is a run of blocks at one
resolution: a block with a strided conv starts the next one, so CIFAR ResNets have three equal stages and
ResNet-34 four of 3/4/6/3 blocks. ``skip`` lists ids left intact and ``stage_ratios`` gives the pruned
fraction p per stage, keeping ⌊out·(1−p)⌋ filters (Liu's rule). With ``stage_ratios: null`` every stage uses the run's
``sparsity`` as p (Wang et al.'s ResNet-56 study); with explicit ratios the run's sparsity must be null —
the preset decides it, and the mask report gives the resulting weight sparsity. As with ``l1_filter``, the
dense architecture is kept and the removal is expressed as a mask (rows of conv1, input columns of conv2).
"""

from __future__ import annotations

import math
import re

from torch import nn

from prunelab.errors import ConfigError
from prunelab.pruning.base import PruneContext
from prunelab.pruning.l1_filter import smallest_units
from prunelab.training.masks import Mask


def residual_blocks(model: nn.Module) -> list[tuple[str, nn.Module]]:
    """Blocks with conv1 → conv2 in series (basic and pre-activation residual blocks), in network order."""
    return [
        (name, m)
        for name, m in model.named_modules()
        if isinstance(getattr(m, "conv1", None), nn.Conv2d)
        and isinstance(getattr(m, "conv2", None), nn.Conv2d)
        and m.conv2.in_channels == m.conv1.out_channels
    ]


def block_layout(blocks: list[tuple[str, nn.Module]]) -> list[tuple[int, int]]:
    """``(stage, conv id of conv1)`` per block: stages split at strided blocks, ids count the blocks' own convs."""
    layout, stage, conv_id = [], 0, 2
    for b, (_, block) in enumerate(blocks):
        if b > 0 and any(getattr(m, "stride", (1,)) != (1, 1) for m in block.modules() if isinstance(m, nn.Conv2d)):
            stage += 1
        layout.append((stage, conv_id))
        conv_id += sum(1 for n, m in block.named_children() if isinstance(m, nn.Conv2d) and re.fullmatch(r"conv\d+", n))
    return layout


def prune(ctx: PruneContext, stage_ratios: list[float] | None, skip: list[int]) -> tuple[Mask, None]:
    if (stage_ratios is None) == (ctx.sparsity is None):
        raise ConfigError(
            "l1_blocks: give either hparams.stage_ratios (and sparsity: null in the experiment) or "
            "a sparsity used as every stage's ratio, not both or neither"
        )
    blocks = residual_blocks(ctx.model)
    if not blocks:
        raise ConfigError("l1_blocks needs a residual network (blocks with conv1 and conv2)")
    layout = block_layout(blocks)
    stages = layout[-1][0] + 1
    ratios = stage_ratios if stage_ratios is not None else [ctx.sparsity] * stages
    if len(ratios) != stages:
        raise ConfigError(
            f"l1_blocks hparams.stage_ratios has {len(ratios)} entries but the network has {stages} stages"
        )
    keep = {n: m.clone() for n, m in ctx.mask.items()}
    for (name, block), (stage, conv_id) in zip(blocks, layout):
        if conv_id in skip:
            continue
        first, second = f"{name}.conv1.weight", f"{name}.conv2.weight"
        if first not in keep or second not in keep:
            raise ConfigError(f"l1_blocks: {first} or {second} is excluded from pruning (prune.exclude)")
        out = block.conv1.out_channels
        units = smallest_units(ctx.params[first], out - math.floor(out * (1.0 - ratios[stage])))
        keep[first][units] = False
        keep[second][:, units] = False
    return Mask(keep), None
