"""The propagation step torchprune runs after every pruning (docs/methods.md §2.9), and its budget refill.

In torchprune every compression (SiPP's three variants and the baselines they are compared with) ends the same
way: the pruned network runs in eval mode over the set S (batches of 4 in S's order; a batch of fewer than two
examples is skipped), the gradients of the batch-mean cross-entropy losses are summed, and every parameter
whose summed gradient is exactly 0 is zeroed. That removes what cannot matter on S: the incoming weights and
bias of a neuron whose outgoing weights were all pruned, the outgoing weights of a neuron never active on S.
Its search on the keep ratio then raises the method's budget until the kept count meets the target again.

prunelab, once per pruning step (the hyperparameter ``propagate``):

1. computes that summed gradient for θ ⊙ m with the method's weight update, on the step's S (the one SiPP's
   sensitivities use, :func:`~prunelab.pruning.sipp_sensitivity.sample_set`; for other methods S is drawn by
   the same rule, sized with SiPP's default C and δ, as torchprune's one loader of S serves every method);
2. drops prunable weights with gradient exactly 0 from the mask, and zeroes the other parameters with
   gradient exactly 0 (biases, normalisation scales and shifts) in the pruned weights; weights named in
   ``prune.exclude`` are left alone, as by every other part of pruning;
3. refills the kept count to exactly the step's target (per tensor for layer-wise scope), adding back entries
   the step's starting mask allows and whose gradient is non-zero, highest ranking first (the scorer's
   scores; SiPP-rand and -hybrid rank by ŝ), with their weights from before the step, ties ordered as the
   selector orders them; "non-zero" is judged by a second gradient pass on the propagated network. An entry with a non-zero gradient is one whose presence matters on S, and adding it
   makes no other gradient exactly 0, so one pass reaches the exact count, where torchprune's search re-runs
   the method with larger budgets and stops within 0.5 % of the target. Where fewer such entries are left than
   are missing (a small layer under layer-wise scope, many neurons never active on a small S), the rest are
   added by ranking among the other allowed entries, so the count stays exact; the record counts them.

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

from prunelab import fragments
from prunelab.errors import ConfigError, PrunelabError
from prunelab.masks import Mask
from prunelab.pruning.base import PruneContext
from prunelab.pruning.catalog.sipp import CONSTANTS
from prunelab.pruning.select import exact_count, prune_count
from prunelab.pruning.sipp_sensitivity import sample_set

BATCH = 4  # torchprune's loader of S serves batches of min(4, test batch size)


def summed_gradients(model: nn.Module, inputs: torch.Tensor, labels: torch.Tensor
                     ) -> dict[str, torch.Tensor | None]:
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
                x, y = inputs[start:start + BATCH], labels[start:start + BATCH]
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


def propagate(ctx: PruneContext, mask: Mask, updates: dict | None, exclude: list[str] | tuple[str, ...]
              ) -> tuple[Mask, dict | None, dict]:
    """The step's mask and weight updates after propagation and refill, and its counts for the step's record.

    ``ctx`` is the step's context (``ctx.mask``: the mask the step started from; ``ctx.params``: the weights
    before the step; ``ctx.ranking``: the refill order), ``mask`` and ``updates`` what the method returned.
    The returned updates hold the method's, the refilled entries' weights, and every other parameter that
    propagation zeroed; a tensor that is just θ ⊙ m is left out of them."""
    if ctx.sparsity is None or ctx.ranking is None:
        raise ConfigError("propagate needs a sparsity and a method that ranks the weights")
    model = copy.deepcopy(ctx.model)
    named = dict(model.named_parameters())
    with torch.no_grad():
        for name, value in (updates or {}).items():
            named[name].copy_(value)
        mask.apply_(named)
    (inputs, labels), _ = sample_set(ctx, model, **fragments.defaults(fragments.closed(CONSTANTS)),
                                     method="propagation")
    grads = summed_gradients(model, inputs, labels)
    propagated = Mask({n: m if grads[n] is None else m & (grads[n] != 0) for n, m in mask.items()})
    out = dict(updates or {})
    zeroed_other = 0
    with torch.no_grad():
        for name, p in named.items():
            if name in mask or name in exclude or grads[name] is None:
                continue
            cut = (grads[name] == 0) & (p != 0)
            if bool(cut.any()):
                p.masked_fill_(cut, 0.0)
                out[name] = p.detach().clone()
                zeroed_other += int(cut.sum())
        propagated.apply_(named)
    # Which pruned entries would matter if added back, judged on the propagated network: a neuron cut off
    # above no longer feeds its pruned outgoing weights.
    grads = summed_gradients(model, inputs, labels)
    live = {n: torch.ones_like(m) if grads[n] is None else grads[n] != 0 for n, m in mask.items()}
    names = list(mask)
    units = [names] if ctx.scope == "global" else [[n] for n in names]
    keep_out: dict[str, torch.Tensor] = {}
    inert = 0
    for unit in units:
        def flat(tensors):
            return torch.cat([tensors[n].detach().flatten() for n in unit])
        total = sum(mask[n].numel() for n in unit)
        target, ranking, original = total - prune_count(ctx.sparsity, total), flat(ctx.ranking), flat(ctx.params)
        keep, weight = exact_count(flat(propagated), flat(named), original, ranking.to(torch.float64),
                                   flat(ctx.mask) & flat(live), target)
        inert += max(0, target - int(keep.sum()))
        keep, weight = exact_count(keep, weight, original, ranking.to(torch.float64), flat(ctx.mask), target)
        offset = 0
        for n in unit:
            size = mask[n].numel()
            keep_out[n] = keep[offset:offset + size].view(mask[n].shape)
            w = weight[offset:offset + size].view(mask[n].shape)
            if not torch.equal(w, ctx.params[n].detach() * keep_out[n]):
                out[n] = w
            offset += size
    result = Mask(keep_out)
    counts = {"zeroed_weights": mask.kept - propagated.kept, "zeroed_other": zeroed_other,
              "refilled": result.kept - propagated.kept, "refilled_inert": inert}
    return result, out or None, counts
