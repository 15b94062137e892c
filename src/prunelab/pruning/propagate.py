"""The propagation step torchprune runs after every pruning (docs/methods.md §2.9), and its budget refill.

In torchprune every compression (SiPP's three variants and the baselines they are compared with) ends the same
way: the pruned network runs in eval mode over the set S (batches of 4 in S's order; a batch of fewer than two
examples is skipped), the gradients of the batch-mean cross-entropy losses are summed, and every parameter
whose summed gradient is exactly 0 is zeroed. That removes what cannot matter on S: the incoming weights and
bias of a neuron whose outgoing weights were all pruned, the outgoing weights of a neuron never active on S.
Its search on the keep ratio then raises the method's budget until the kept count meets the target again.

prunelab, once per pruning step (the hyperparameter ``propagate``):

1. computes that summed gradient for θ ⊙ m with the method's weight update, on the step's S (the one SiPP's
   sensitivities use, :func:`~prunelab.pruning.sipp.sensitivity.sample_set`; for other methods S is drawn by
   the same rule, sized with SiPP's default C and δ, as torchprune's one loader of S serves every method);
2. drops prunable weights with gradient exactly 0 from the mask, and zeroes the other parameters with
   gradient exactly 0 (biases, normalisation scales and shifts) in the pruned weights; weights named in
   ``prune.exclude`` are left alone, as by every other part of pruning;
3. refills the budget as torchprune's search does, by giving the method a larger one. SiPP-rand and -hybrid
   do it themselves (``Method.propagates_in_search``): their budget search re-samples at each candidate budget
   and counts after propagation with :class:`PropagatedNet`, as torchprune's does, and this step skips to 4.
   For a scorer the mask grows by the next-ranked entries the step's starting mask allows (its top-k for a
   larger k), each candidate extension is propagated from scratch, and a bisection on the extension finds the
   largest one whose count after propagation stays within the target (per tensor, in order, for layer-wise
   scope);
4. tops up the few entries still missing (or drops the lowest-ranked surplus where rand's or hybrid's search
   ended above the target), exactly to the target, with the highest-ranked allowed entries
   whose gradient on the propagated network is non-zero (their presence matters on S, and adding them makes no
   other gradient exactly 0), with their weights from before the step; where too few are left (a small layer
   under layer-wise scope, neurons never active on a small S), with the next-ranked allowed entries. Ties
   everywhere as the selector orders them. torchprune's search stops within 0.5 % of its target instead.

A zeroed bias belongs to a neuron that is structurally cut off (all its incoming or outgoing weights are now
pruned, and at a zero pre-activation ReLU passes no gradient), so its gradient stays exactly 0 while the mask
holds and fine-tuning keeps it at 0. The pruned weights therefore carry it (the prune run saves them), and
the step's record counts it; branches that restart from other weights (rewinding, scratch) restart biases too.
"""

from __future__ import annotations

import copy

import torch
import torch.nn.functional as F
from torch import nn

from prunelab.config import fragments
from prunelab.errors import ConfigError, PrunelabError
from prunelab.pruning.base import PruneContext
from prunelab.pruning.catalog.sipp import CONSTANTS
from prunelab.pruning.select import exact_count, prune_count
from prunelab.pruning.sipp.sensitivity import sample_set
from prunelab.training.masks import Mask

BATCH = 4  # torchprune's loader of S serves batches of min(4, test batch size)


def summed_gradients(model: nn.Module, inputs: torch.Tensor, labels: torch.Tensor) -> dict[str, torch.Tensor | None]:
    """∇ Σ_b CE_b over the batches of S for every parameter of ``model`` (eval mode); None where unreached."""
    named = dict(model.named_parameters())
    sums: dict[str, torch.Tensor | None] = {n: None for n in named}
    was_training = model.training
    model.eval()
    flags = {n: p.requires_grad for n, p in named.items()}
    for p in named.values():
        p.requires_grad_(True)
    batches = 0
    try:
        with torch.enable_grad():
            for start in range(0, len(inputs), BATCH):
                x, y = inputs[start : start + BATCH], labels[start : start + BATCH]
                if len(x) < 2:
                    continue
                batches += 1
                loss = F.cross_entropy(model(x), y)
                for n, g in zip(named, torch.autograd.grad(loss, list(named.values()), allow_unused=True)):
                    if g is not None:
                        sums[n] = g if sums[n] is None else sums[n] + g
    finally:
        model.train(was_training)
        for n, p in named.items():
            p.requires_grad_(flags[n])
    if not batches:
        raise PrunelabError(f"propagation needs a batch of at least 2 examples of S; S has {len(inputs)}")
    return sums


class PropagatedNet:
    """The pruned network a propagation evaluates: ``state`` (the weights before the step with the method's
    update where the method kept them) under a given mask, propagated over S. SiPP-rand and -hybrid also use it
    inside their budget search, with each candidate's sampled weights."""

    def __init__(self, ctx: PruneContext, updates: dict | None, exclude: list[str] | tuple[str, ...]):
        self.model = copy.deepcopy(ctx.model)
        self.named = dict(self.model.named_parameters())
        with torch.no_grad():
            for name, value in (updates or {}).items():
                self.named[name].copy_(value)
        self.state = {n: p.detach().clone() for n, p in self.named.items()}
        self.exclude = set(exclude)
        (self.inputs, self.labels), _ = sample_set(
            ctx, self.model, **fragments.defaults(fragments.closed(CONSTANTS)), method="propagation"
        )

    def propagate(self, mask: Mask, weights: dict | None = None) -> tuple[Mask, int]:
        """Apply ``mask`` to the state (with ``weights`` in place of the state's tensors they name), zero what
        has gradient exactly 0: (the mask left, other entries zeroed)."""
        with torch.no_grad():
            for name, p in self.named.items():
                p.copy_((weights or {}).get(name, self.state[name]))
            mask.apply_(self.named)
        grads = summed_gradients(self.model, self.inputs, self.labels)
        left = Mask({n: m if grads[n] is None else m & (grads[n] != 0) for n, m in mask.items()})
        zeroed = 0
        with torch.no_grad():
            for name, p in self.named.items():
                if name in mask or name in self.exclude or grads[name] is None:
                    continue
                cut = (grads[name] == 0) & (p != 0)
                zeroed += int(cut.sum())
                p.masked_fill_(cut, 0.0)
            left.apply_(self.named)
        return left, zeroed

    def live(self, mask: Mask) -> dict[str, torch.Tensor]:
        """Entries whose gradient on the current (propagated) network is non-zero: those that matter on S."""
        grads = summed_gradients(self.model, self.inputs, self.labels)
        return {n: torch.ones_like(m) if grads[n] is None else grads[n] != 0 for n, m in mask.items()}


def _flat(tensors: dict, unit: list[str]) -> torch.Tensor:
    return torch.cat([tensors[n].detach().flatten() for n in unit])


def _unflatten(flat: torch.Tensor, like: dict, unit: list[str]) -> dict[str, torch.Tensor]:
    out, offset = {}, 0
    for n in unit:
        out[n] = flat[offset : offset + like[n].numel()].view(like[n].shape)
        offset += like[n].numel()
    return out


def propagate(
    ctx: PruneContext, mask: Mask, updates: dict | None, exclude: list[str] | tuple[str, ...], refill: bool = True
) -> tuple[Mask, dict | None, dict]:
    """The step's mask and weight updates after propagation and refill, and its counts for the step's record.

    ``ctx`` is the step's context (``ctx.mask``: the mask the step started from; ``ctx.params``: the weights
    before the step; ``ctx.ranking``: the refill order), ``mask`` and ``updates`` what the method returned.
    The returned updates hold the method's, the refilled entries' weights, and every other parameter that
    propagation zeroed; a tensor that is just θ ⊙ m is left out of them. ``refill=False`` skips step 3 for a
    method that already searched its budget on the count after propagation (SiPP-rand and -hybrid, with
    ``ctx.propagating``): only the top-up (or, above the target, the drop of the lowest-ranked) remains."""
    if ctx.sparsity is None or ctx.ranking is None:
        raise ConfigError("propagate needs a sparsity and a method that ranks the weights")
    # Entries the method pruned refill with their weights from before the step, not the method's zeros.
    net = PropagatedNet(
        ctx,
        updates and {n: torch.where(mask[n], v, ctx.params[n]) if n in mask else v for n, v in updates.items()},
        exclude,
    )
    names = list(mask)
    units = [names] if ctx.scope == "global" else [[n] for n in names]
    current = Mask(dict(mask))
    added = 0
    for unit in units if refill else []:
        total = sum(mask[n].numel() for n in unit)
        target = total - prune_count(ctx.sparsity, total)
        base = _flat(current, unit)
        candidates = (_flat(ctx.mask, unit) & ~base).nonzero().flatten()
        # Highest ranking first; among ties the higher flat index first (the selector prunes the lower first).
        ranks = _flat(ctx.ranking, unit).to(torch.float64)[candidates]
        order = candidates[torch.sort(ranks, stable=True).indices].flip(0)

        def extended(k: int) -> Mask:
            keep = base.clone()
            keep[order[:k]] = True
            return Mask({**current, **_unflatten(keep, mask, unit)})

        def kept(k: int) -> int:
            left, _ = net.propagate(extended(k))
            return int(_flat(left, unit).sum())

        # torchprune raises the method's budget until the count after propagation meets the target; here the
        # budget grows by the next-ranked entries: the largest such extension that stays within the target.
        lo, hi = 0, len(order)
        if kept(hi) <= target:
            lo = hi
        while hi - lo > 1:
            mid = (lo + hi) // 2
            lo, hi = (mid, hi) if kept(mid) <= target else (lo, mid)
        current = extended(lo)
        added += lo
    propagated, zeroed_other = net.propagate(current)
    live = net.live(propagated)
    keep_out: dict[str, torch.Tensor] = {}
    weights: dict[str, torch.Tensor] = {}
    inert = 0
    for unit in units:
        total = sum(mask[n].numel() for n in unit)
        target, ranking, original = (
            total - prune_count(ctx.sparsity, total),
            _flat(ctx.ranking, unit),
            _flat(net.state, unit),
        )
        allowed = _flat(ctx.mask, unit)
        keep, weight = exact_count(
            _flat(propagated, unit),
            _flat(net.named, unit),
            original,
            ranking.to(torch.float64),
            allowed & _flat(live, unit),
            target,
        )
        inert += max(0, target - int(keep.sum()))
        keep, weight = exact_count(keep, weight, original, ranking.to(torch.float64), allowed, target)
        keep_out.update(_unflatten(keep, mask, unit))
        weights.update(_unflatten(weight, mask, unit))
    out = dict(updates or {})
    for name, p in net.named.items():
        if name in mask:
            if not torch.equal(weights[name], ctx.params[name].detach() * keep_out[name]):
                out[name] = weights[name]
        elif not torch.equal(p.detach(), net.state[name]):
            out[name] = p.detach().clone()
    result = Mask(keep_out)
    counts = {
        "added_by_ranking": added,
        "zeroed_weights": mask.kept + added - propagated.kept,
        "zeroed_other": zeroed_other,
        "topped_up": result.kept - propagated.kept,
        "topped_up_inert": inert,
    }
    return result, out or None, counts
