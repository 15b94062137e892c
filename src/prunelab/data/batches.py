"""Device-resident mini-batches whose order and augmentation are a pure function of (seed, epoch).

Each epoch's permutation, crop offsets and flip bits are drawn at the start of the epoch from a CPU
generator seeded with ``(data_seed, epoch)``. Nothing about the data stream lives in mutable state, so a
resumed run rebuilds the plan for its epoch and skips to its batch index, and a rewound branch replays
exactly the batches the dense run saw from that point on. Cropping and flipping are done on the device
by index arithmetic on the whole batch (no per-image Python, no DataLoader workers).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import torch
import torch.nn.functional as F


def shard_bounds(n: int, rank: int, world: int) -> tuple[int, int]:
    """``[lo, hi)`` of rank ``rank``'s contiguous part of a batch of ``n`` (the first ``n % world`` get one more):
    the slice of the global batch one data-parallel rank trains on (prunelab.training.distributed)."""
    base, extra = divmod(n, world)
    lo = rank * base + min(rank, extra)
    return lo, lo + base + (1 if rank < extra else 0)


def epoch_generator(seed: int, epoch: int) -> torch.Generator:
    """A CPU generator for one epoch; distinct (seed, epoch) pairs give independent streams."""
    return torch.Generator().manual_seed((int(seed) * 1_000_003 + int(epoch)) % (2**63 - 1))


@dataclass
class EpochPlan:
    """The batches of one epoch: indices into the training split plus per-example augmentation draws."""

    order: torch.Tensor  # (N,) permutation
    offsets: torch.Tensor | None  # (N, 2) crop offsets in [0, 2·pad]
    flips: torch.Tensor | None  # (N,) bool
    pad: int
    batch_size: int
    drop_last: bool

    @classmethod
    def make(cls, n: int, batch_size: int, seed: int, epoch: int, augment: dict, drop_last: bool = False) -> EpochPlan:
        gen = epoch_generator(seed, epoch)
        order = torch.randperm(n, generator=gen)
        pad = int(augment.get("crop_padding", 0))
        offsets = torch.randint(0, 2 * pad + 1, (n, 2), generator=gen) if pad else None
        flips = torch.rand(n, generator=gen) < 0.5 if augment.get("flip", False) else None
        return cls(order, offsets, flips, pad, batch_size, drop_last)

    def __len__(self) -> int:
        n = len(self.order)
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)

    def batches(
        self, x: torch.Tensor, y: torch.Tensor, start: int = 0, shard: tuple[int, int] = (0, 1)
    ) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """Yield ``(inputs, labels)`` on ``x``'s device from batch index ``start`` to the end; ``shard`` =
        ``(rank, world)`` keeps that rank's slice of each batch (:func:`shard_bounds`)."""
        device = x.device
        order = self.order.to(device, non_blocking=True)
        offsets = self.offsets.to(device, non_blocking=True) if self.offsets is not None else None
        flips = self.flips.to(device, non_blocking=True) if self.flips is not None else None
        for b in range(start, len(self)):
            first = b * self.batch_size
            lo, hi = shard_bounds(min(self.batch_size, len(self.order) - first), *shard)
            sl = slice(first + lo, first + hi)
            idx = order[sl]
            xb = x.index_select(0, idx)
            if offsets is not None:
                xb = random_crop(xb, offsets[sl], self.pad)
            if flips is not None:
                xb = torch.where(flips[sl].view(-1, 1, 1, 1), xb.flip(-1), xb)
            yield xb, y.index_select(0, idx)


def random_crop(x: torch.Tensor, offsets: torch.Tensor, pad: int) -> torch.Tensor:
    """Zero-pad by ``pad`` and crop each image back to its size at its own ``(dy, dx)`` offset."""
    _, _, h, w = x.shape
    padded = F.pad(x, (pad, pad, pad, pad))
    rows = offsets[:, 0:1] + torch.arange(h, device=x.device)  # (B, H)
    cols = offsets[:, 1:2] + torch.arange(w, device=x.device)  # (B, W)
    batch = torch.arange(x.shape[0], device=x.device).view(-1, 1, 1)
    out = padded.permute(0, 2, 3, 1)[batch, rows.unsqueeze(2), cols.unsqueeze(1)]  # (B, H, W, C)
    return out.permute(0, 3, 1, 2).contiguous()


def eval_batches(x, y: torch.Tensor, batch_size: int) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """Sequential, unaugmented batches for evaluation and scoring (a streamed split decodes its own)."""
    if not isinstance(x, torch.Tensor):
        yield from x.eval_batches(batch_size)
        return
    for start in range(0, len(y), batch_size):
        yield x[start : start + batch_size], y[start : start + batch_size]
