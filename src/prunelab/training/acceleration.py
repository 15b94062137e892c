"""The loss of one training step under the speed switches: bf16 autocast, channels_last, torch.compile.

``train.precision`` and ``train.channels_last`` belong to the run spec (bf16 changes the numbers, and
channels_last picks different convolution kernels), so they are hashed like any other training setting;
``runtime.compile`` only changes how the same computation is launched and is a runtime switch. Keeping all
three here leaves the training loop a single call, ``loss = step(xb, yb)``, whatever is switched on.

Why each exists (docs/architecture.md §7): small models at batch 128 are launch-bound on a GPU, and
``torch.compile(mode="reduce-overhead")`` replays the step as CUDA graphs; bf16 halves the memory traffic of
the larger CIFAR models on tensor-core GPUs; channels_last lets cuDNN use its NHWC kernels, which is what
tensor cores want. On a CPU none of them is guaranteed to help (``benchmarks/precision.py`` measures it).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

from prunelab.errors import ConfigError

PRECISIONS = {"fp32": None, "bf16": torch.bfloat16}


def autocast_dtype(train: dict) -> torch.dtype | None:
    """The autocast dtype of ``train.precision`` (None: plain fp32), or a one-line error."""
    precision = train.get("precision", "fp32")
    if precision not in PRECISIONS:
        raise ConfigError(f"train.precision={precision!r} is unknown (allowed: {', '.join(PRECISIONS)})")
    return PRECISIONS[precision]


def compile_forward(model: nn.Module) -> Callable[[torch.Tensor], torch.Tensor]:
    """``torch.compile`` in reduce-overhead mode (CUDA graphs on a GPU) with one graph per batch shape.

    ``dynamic=False`` because a run sees at most two batch shapes (full and the epoch's last), and static
    shapes are what CUDA graphs need. Only the forward is compiled; the loss, the mask and the optimizer
    stay eager, so the outputs of one replay are consumed before the next one overwrites them.
    """
    return torch.compile(model, mode="reduce-overhead", dynamic=False)


class TrainingStep:
    """``step(x, y)`` → mean cross-entropy of ``model`` on the batch, under the configured switches.

    channels_last converts the model's 4-d parameters once, here, in place (parameter identity is kept, so
    optimizers and masks built before or after still refer to the same tensors), and each 4-d input batch.
    """

    def __init__(
        self,
        model: nn.Module,
        train: dict,
        *,
        compile: bool = False,
        wrap: Callable[[nn.Module], nn.Module] = lambda model: model,
    ):
        self.dtype = autocast_dtype(train)
        self.channels_last = bool(train.get("channels_last", False))
        if self.channels_last:
            model.to(memory_format=torch.channels_last)
        first = next(model.parameters(), None)
        self.device_type = first.device.type if first is not None else "cpu"
        forward = wrap(model)  # DDP, after channels_last so that its gradient buckets get the final strides
        self.forward = compile_forward(forward) if compile else forward

    def __call__(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        if self.channels_last and x.dim() == 4:
            x = x.contiguous(memory_format=torch.channels_last)
        with torch.autocast(self.device_type, dtype=self.dtype, enabled=self.dtype is not None):
            return F.cross_entropy(self.forward(x), y)
