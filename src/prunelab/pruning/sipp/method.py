"""SiPP (Baykal, Liebenwein et al., "SiPPing Neural Networks"): sensitivity-informed pruning, three variants.

docs/methods.md §2.9, following torchprune's code:

- ``sipp_det``: score = ŝ (mean over conv patches); the shared selector keeps the global top (1−s)N.
- ``sipp_rand``: each (neuron, sign side) group keeps m weights, m from the convex allocation of
  :mod:`~prunelab.pruning.sipp.allocation` (rounded up), realised by importance sampling with replacement
  and unbiased reweighting (:mod:`~prunelab.pruning.sipp.sampling`). Groups whose ŝ sums to ≤ float32 eps
  keep nothing, as in torchprune.
- ``sipp_hybrid``: the rand allocation, but each group keeps its deterministic top-m (no reweighting) where
  the deterministic error C·Σ(ŝ outside the top m) is ≤ the sampling bound ε(m); elsewhere it samples.

rand and hybrid: the allocation budget B is a *nominal* keep count; a bracketed search on B (at most
``search_iterations`` evaluations, common random numbers: every evaluation reseeds the same sampling
generator) stops once the kept count is within ``tolerance`` of the target (N − ⌊sN+½⌋), as torchprune's
outer search on the keep ratio does. prunelab then hits the target exactly, deterministically: surplus kept
entries are dropped lowest ŝ first, or missing ones added highest ŝ first (with their original weight), in
both cases ordering ties as the shared selector does (lower flat index pruned first). Layer-wise scope runs
the same procedure per tensor. Entries pruned by an earlier mask stay pruned. With the propagation step on
(``ctx.propagating``) the search counts each candidate's sample after propagation instead, as torchprune's
search does, and leaves the exact count to the propagation step (:mod:`prunelab.pruning.propagate`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from prunelab.errors import ConfigError
from prunelab.pruning.base import PruneContext
from prunelab.pruning.propagate import PropagatedNet
from prunelab.pruning.scoring_copy import scoring_copy
from prunelab.pruning.select import exact_count, prune_count
from prunelab.pruning.sipp.allocation import allocate, error_bound, log_term
from prunelab.pruning.sipp.sampling import SAMPLE, SUPPORT, draw_counts, sample_reweighted
from prunelab.pruning.sipp.sensitivity import EPS, LayerShape, empirical_sensitivity, prunable_modules, sample_set
from prunelab.training.masks import Mask


def sensitivities(
    ctx: PruneContext, reduce: str, c_constant: float, delta_failure: float, method: str
) -> tuple[dict[str, torch.Tensor], dict[str, LayerShape]]:
    """ŝ for every prunable weight of ``ctx`` from the set S, and the layer shapes SiPP's constants use."""
    model, _ = scoring_copy(ctx)
    (inputs, _), shapes = sample_set(ctx, model, c_constant, delta_failure, method)
    return empirical_sensitivity(model, prunable_modules(model, list(ctx.params)), inputs, reduce), shapes


@dataclass
class SideGroups:
    """One layer as 2n groups: rows 0..n−1 hold each neuron's positive weights, rows n..2n−1 its negative."""

    weight: torch.Tensor  # (2n, K) float64, zero off the row's side
    sens: torch.Tensor  # (2n, K) ŝ, zero off the row's side
    alpha: np.ndarray  # (2n,) 2·S_g·C·ln(8(P+1)κ/δ)
    layer_weight: np.ndarray  # (2n,) 1/n_l
    nnz: np.ndarray  # (2n,) entries with ŝ > 0

    @classmethod
    def build(
        cls, weight: torch.Tensor, sens: torch.Tensor, shape: LayerShape, c_constant: float, delta_failure: float
    ) -> SideGroups:
        w = weight.detach().reshape(weight.shape[0], -1).to("cpu", torch.float64)
        s = sens.reshape(weight.shape[0], -1).to("cpu", torch.float64)
        side_w = torch.cat([w * (w > 0), w * (w < 0)])
        side_s = torch.cat([s * (w > 0), s * (w < 0)])
        sums = side_s.sum(1).numpy()
        alpha = 2.0 * sums * log_term(c_constant, delta_failure, shape.patches, shape.kernel)
        return cls(
            side_w,
            side_s,
            np.where(sums > EPS, alpha, 0.0),
            np.full(len(sums), 1.0 / shape.neurons),
            (side_s > 0).sum(1).numpy().astype(np.float64),
        )

    def realise(
        self, m: torch.Tensor, hybrid: bool, c_constant: float, generator: torch.Generator
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """(keep, ŵ) as flat tensors of the weight's shape for the per-group survivor counts ``m``."""
        sums = self.sens.sum(1, keepdim=True)
        probs = torch.where(sums > EPS, self.sens / sums.clamp_min(EPS), torch.zeros_like(self.sens))
        order = torch.sort(-self.sens, dim=1, stable=True).indices
        rank = torch.empty_like(order).scatter_(1, order, torch.arange(order.shape[1]).expand_as(order))
        top = rank < m.unsqueeze(1)
        use_det = torch.zeros_like(m, dtype=torch.bool)
        if hybrid:
            det_error = c_constant * (self.sens * ~top).sum(1).numpy()
            use_det = torch.from_numpy(det_error <= error_bound(m.numpy().astype(np.float64), self.alpha))
        draws, mode = draw_counts(probs, torch.where(use_det, torch.zeros_like(m), m))
        sampled = sample_reweighted(self.weight, probs, torch.where(mode == SAMPLE, draws, 0), generator)
        # Unchanged weights: a group's whole support, or a hybrid group's top m. Sampled weights are
        # non-zero exactly where drawn (p > 0 only where ŝ > 0, and ŝ > 0 only where W ≠ 0).
        unchanged = ((mode == SUPPORT).unsqueeze(1) & (self.sens > 0)) | (use_det.unsqueeze(1) & top)
        new = torch.where(unchanged, self.weight, sampled)
        keep = unchanged | (sampled != 0)
        n = self.weight.shape[0] // 2
        return (keep[:n] | keep[n:]).flatten(), (new[:n] + new[n:]).flatten()


def _evaluate(
    layers: list[SideGroups], budget: float, seed: int, hybrid: bool, c_constant: float
) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
    alpha = np.concatenate([g.alpha for g in layers])
    m = allocate(
        alpha,
        np.concatenate([g.layer_weight for g in layers]),
        np.concatenate([g.nnz for g in layers]) * (alpha > 0),
        budget,
    )
    m = torch.from_numpy(np.ceil(m).astype(np.int64))
    generator = torch.Generator().manual_seed(seed)
    keeps, weights, offset = [], [], 0
    for g in layers:
        rows = len(g.alpha)
        keep, new = g.realise(m[offset : offset + rows], hybrid, c_constant, generator)
        keeps.append(keep)
        weights.append(new)
        offset += rows
    return keeps, weights


def search_budget(
    layers: list[SideGroups],
    target: int,
    seed: int,
    hybrid: bool,
    c_constant: float,
    tolerance: float,
    iterations: int,
    count: Callable[[torch.Tensor, torch.Tensor], int] | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Search the nominal budget until the kept count is within ``tolerance``·target; the closest wins.

    ``count`` gives a candidate's kept count from its flat keep and weights: by default its kept entries; the
    count after propagation when the step propagates (torchprune's search re-samples at every candidate budget
    and propagates the result, so it lands on a larger budget than without propagation). Each step rescales the
    budget by target/kept (kept is roughly proportional to the budget) and falls back to bisecting the bracket
    whenever that proposal leaves it."""
    lo, hi = 0.0, float(sum(g.nnz.sum() for g in layers))
    budget, best = float(min(target, hi)), None
    for _ in range(iterations):
        keeps, weights = _evaluate(layers, budget, seed, hybrid, c_constant)
        keep, weight = torch.cat(keeps), torch.cat(weights)
        kept = int(keep.sum()) if count is None else count(keep, weight)
        if best is None or abs(kept - target) < best[0]:
            best = (abs(kept - target), keep, weight)
        if abs(kept - target) <= tolerance * target:
            break
        lo, hi = (budget, hi) if kept < target else (lo, budget)
        proposal = budget * target / max(kept, 1)  # kept grows about proportionally with the budget
        budget = proposal if lo < proposal < hi else 0.5 * (lo + hi)
    return best[1], best[2]


def _prune_sampled(
    ctx: PruneContext, hybrid: bool, c_constant: float, delta_failure: float, tolerance: float, search_iterations: int
) -> tuple[Mask, dict]:
    method = "sipp_hybrid" if hybrid else "sipp_rand"
    sens, shapes = sensitivities(ctx, "max", c_constant, delta_failure, method)
    ctx.ranking = sens
    seed = int(torch.randint(0, 2**62, (1,), generator=ctx.generator))
    names = list(ctx.params)
    groups = {n: SideGroups.build(ctx.params[n], sens[n], shapes[n], c_constant, delta_failure) for n in names}
    flat = {
        n: (
            ctx.params[n].detach().flatten().to("cpu", torch.float64),
            sens[n].flatten().to("cpu"),
            ctx.mask[n].flatten().cpu(),
        )
        for n in names
    }
    units = [names] if ctx.scope == "global" else [[n] for n in names]
    allowed = [torch.cat([flat[n][2] for n in unit]) for unit in units]
    targets = []
    for unit, free in zip(units, allowed):
        total = sum(ctx.params[n].numel() for n in unit)
        targets.append(total - prune_count(ctx.sparsity, total))
        if int(free.sum()) < targets[-1]:
            raise ConfigError(
                f"sparsity={ctx.sparsity} is below what the parent mask already prunes"
                f"{'' if ctx.scope == 'global' else ' in ' + unit[0]}; masks are nested, so "
                f"sparsity can only grow"
            )

    def split(found: dict[int, tuple[torch.Tensor, torch.Tensor]]) -> tuple[dict, dict]:
        """Per-tensor keep and weights (on the parameters' device and dtype) of the units in ``found``."""
        keep_out, weight_out = {}, {}
        for i, (keep, weight) in found.items():
            keep, weight, offset = keep & allowed[i], weight * allowed[i], 0
            for n in units[i]:
                size = ctx.params[n].numel()
                keep_out[n] = keep[offset : offset + size].view(ctx.params[n].shape).to(ctx.params[n].device)
                weight_out[n] = weight[offset : offset + size].view(ctx.params[n].shape).to(ctx.params[n])
                offset += size
        return keep_out, weight_out

    def search(i: int, count: Callable | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        return search_budget(
            [groups[n] for n in units[i]], targets[i], seed, hybrid, c_constant, tolerance, search_iterations, count
        )

    found: dict[int, tuple[torch.Tensor, torch.Tensor]] = {}
    if not ctx.propagating:
        for i, unit in enumerate(units):
            original, s = (torch.cat([flat[n][j] for n in unit]) for j in range(2))
            keep, weight = search(i)
            found[i] = exact_count(
                keep & allowed[i], weight * allowed[i], original, s.to(torch.float64), allowed[i], targets[i]
            )
        keep_out, weight_out = split(found)
        return Mask(keep_out), weight_out
    # With propagation the search targets the count after it, as torchprune's does; the propagation step
    # (refill=False) then propagates the result and tops it up to the exact target. Under layer-wise scope
    # each tensor's search sees the others at their search result without propagation, then at their own.
    net = PropagatedNet(ctx, None, ctx.exclude)
    if len(units) > 1:
        found = {i: search(i) for i in range(len(units))}
    for i, unit in enumerate(units):

        def count(keep: torch.Tensor, weight: torch.Tensor, i: int = i, unit: list[str] = unit) -> int:
            keep_out, weight_out = split({**found, i: (keep, weight)})
            left, _ = net.propagate(Mask(keep_out), weight_out)
            return sum(int(left[n].sum()) for n in unit)

        found[i] = search(i, count)
    keep_out, weight_out = split(found)
    return Mask(keep_out), weight_out


def prune_rand(
    ctx: PruneContext, c_constant: float, delta_failure: float, tolerance: float, search_iterations: int
) -> tuple[Mask, dict]:
    return _prune_sampled(ctx, False, c_constant, delta_failure, tolerance, search_iterations)


def prune_hybrid(
    ctx: PruneContext, c_constant: float, delta_failure: float, tolerance: float, search_iterations: int
) -> tuple[Mask, dict]:
    return _prune_sampled(ctx, True, c_constant, delta_failure, tolerance, search_iterations)


def score_det(ctx: PruneContext, c_constant: float, delta_failure: float) -> dict:
    sens, _ = sensitivities(ctx, "mean", c_constant, delta_failure, "sipp_det")
    return sens
