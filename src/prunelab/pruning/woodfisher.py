"""WoodFisher (Singh & Alistarh 2020): OBS with a block-diagonal empirical Fisher (docs/methods.md §2.6).

Curvature F̂ = λI + (1/N) Σ_n g_n g_nᵀ, where g_n is the gradient of the mean loss over the n-th mini-batch
of ``fisher_mini_bsz`` scoring examples (N = ``num_grads``), multiplied by the current mask. F̂ is kept
block-diagonal: contiguous blocks of ``block_size`` entries inside each tensor's flattened weights (a
tensor's last block may be shorter; it is padded with decoupled entries). With fewer gradients than block
entries (N < B), each block's inverse is built by the Sherman–Morrison/Woodbury recursion from λ⁻¹I
(:func:`~prunelab.pruning.kkt.woodbury_inverse`, N·B² per block); otherwise the outer products are
summed and each block inverted once (:func:`~prunelab.pruning.kkt.accumulated_inverse`, about half
the work at N ≥ B). Both give the same matrix; the tests hold each to the direct inverse.

Score (lower = prune first): the OBS loss increase θ_q²/(2[F̂⁻¹]_qq) (the authors drop the ½; the ranking
is the same). The shared selector picks the mask (scope, nesting, exact counts). Then the surviving
weights get the OBS compensation, block by block: ``independent`` (default, the authors' update, also under
their ``--woodburry-joint-sparsify``, which only makes the mask global) sums the single-weight updates,
δθ = −F̂⁻¹ Σ_{q∈Q} (θ_q/[F̂⁻¹]_qq) e_q; ``joint`` solves for every pruned entry of the block at once,
δθ = −F̂⁻¹E_Qᵀ(E_QF̂⁻¹E_Qᵀ)⁻¹θ_Q; ``none`` only masks. ``damp`` is λ, absolute (the authors' 1e-5).

Memory is P·block_size floats for the inverses; the per-example gradients are streamed in chunks.
"""

from __future__ import annotations

import math

import torch

from prunelab.pruning.base import PruneContext
from prunelab.pruning.curvature import FlatModel, minibatch_gradients
from prunelab.pruning.kkt import accumulated_inverse, independent_update, joint_update, saliency, woodbury_inverse
from prunelab.pruning.select import select
from prunelab.training.masks import Mask


class BlockLayout:
    """Contiguous blocks of ``block_size`` entries inside each tensor of a flat vector of ``sizes``.

    ``index`` is (blocks, B) into the flat vector; padding slots point one past its end, where
    :meth:`blocks` appends a zero, so padded entries are zero in every gradient and stay decoupled.
    """

    def __init__(self, sizes: list[int], block_size: int, device: torch.device | str = "cpu"):
        total, offset, rows = sum(sizes), 0, []
        for size in sizes:
            count = math.ceil(size / block_size)
            idx = offset + torch.arange(count * block_size).view(count, block_size)
            rows.append(torch.where(idx < offset + size, idx, torch.full_like(idx, total)))
            offset += size
        self.index = torch.cat(rows).to(device)
        self.valid = self.index < total
        self.total = total
        self.shape = tuple(self.index.shape)

    def blocks(self, flat: torch.Tensor) -> torch.Tensor:
        """(..., P) → (..., blocks, B)."""
        padded = torch.nn.functional.pad(flat, (0, 1))
        return padded.index_select(-1, self.index.flatten()).view(*flat.shape[:-1], *self.shape)

    def flat(self, blocks: torch.Tensor) -> torch.Tensor:
        """(blocks, B) → (P,), dropping the padding."""
        out = blocks.new_empty(self.total)
        out[self.index[self.valid]] = blocks[self.valid]
        return out


def inverse_fisher_blocks(
    fm: FlatModel, ctx: PruneContext, layout: BlockLayout, num_grads: int, mini_batch: int, damp: float
) -> torch.Tensor:
    """(blocks, B, B): the inverse of each diagonal block of λI + (1/N)Σ g gᵀ, masked gradients."""
    keep = fm.flatten(ctx.mask).to(device=fm.theta.device)
    # masked and gathered in the gradients' dtype (exact: a 0/1 mask and a copy), then one float64 copy
    chunks = (
        layout.blocks(g * keep).transpose(0, 1).to(torch.float64, memory_format=torch.contiguous_format)
        for g in minibatch_gradients(fm, ctx.batches, mini_batch, num_grads)
    )
    if num_grads >= layout.shape[1]:  # enough gradients to amortise one B×B inverse per block: sum, then invert
        return accumulated_inverse(chunks, num_grads, damp, layout.shape, device=fm.theta.device)
    rank = max(8, min(32, layout.shape[1] // 4))  # fastest measured on CPU for B = 32 and B = 128
    return woodbury_inverse(chunks, num_grads, damp, layout.shape, device=fm.theta.device, rank=rank)


def prune(ctx: PruneContext, **hparams) -> tuple[Mask, dict | None]:
    fm = FlatModel.from_context(ctx)
    layout = BlockLayout(fm.sizes, hparams["block_size"], fm.theta.device)
    f_inv = inverse_fisher_blocks(fm, ctx, layout, hparams["num_grads"], hparams["fisher_mini_bsz"], hparams["damp"])
    theta = fm.theta.double()
    stat = saliency(layout.flat(torch.diagonal(f_inv, dim1=-2, dim2=-1)), theta)
    mask = select(fm.as_dict(stat), ctx.sparsity, ctx.scope, ctx.mask)
    if hparams["update"] == "none":
        return mask, None
    kept = fm.flatten(mask)
    step = joint_update if hparams["update"] == "joint" else independent_update
    theta = theta + layout.flat(step(f_inv, layout.blocks(theta), layout.blocks(~kept)))
    theta = torch.where(kept, theta, torch.zeros_like(theta))
    return mask, fm.as_dict(theta.to(fm.theta.dtype))
