"""The one selector every scorer feeds: scores → Mask with exact counts and deterministic ties.

docs/methods.md §1.3: global scope prunes exactly K = ⌊s·N + ½⌋ entries, layer-wise scope K_l = ⌊s·N_l + ½⌋
per tensor. Candidates are ordered by (score ascending, global flat index ascending) with a stable sort, where
the flat index concatenates the tensors in ``named_parameters()`` order, each flattened row-major. Entries
a previous mask already pruned get score −∞, so masks are nested and those entries count towards K.
"""

from __future__ import annotations

import math

import torch

from prunelab.errors import ConfigError, PrunelabError
from prunelab.training.masks import Mask


def prune_count(sparsity: float, n: int) -> int:
    """⌊s·n + ½⌋, computed without float rounding surprises for s·n just below a half."""
    return min(n, int(math.floor(sparsity * n + 0.5)))


def _ordered_flat(scores: dict[str, torch.Tensor], previous: Mask | None) -> dict[str, torch.Tensor]:
    flat = {}
    for name, s in scores.items():
        s = s.detach().to(torch.float64).flatten()
        if bool(torch.isnan(s).any()) or bool(torch.isposinf(s).any()):
            raise PrunelabError(f"scores for {name} contain NaN or +inf; the scorer failed")
        if previous is not None:
            s = torch.where(previous[name].flatten().to(s.device), s, torch.full_like(s, -math.inf))
        flat[name] = s
    return flat


def _prune_lowest(values: torch.Tensor, k: int) -> torch.Tensor:
    """Bool keep-vector with the k lowest entries (ties: lower index first) set to False."""
    keep = torch.ones_like(values, dtype=torch.bool)
    if k > 0:
        order = torch.sort(values, stable=True).indices
        keep[order[:k]] = False
    return keep


def select(
    scores: dict[str, torch.Tensor], sparsity: float, scope: str = "global", previous: Mask | None = None
) -> Mask:
    """Prune the lowest-scoring entries to ``sparsity`` (over ``scores``' tensors), nested in ``previous``."""
    if not 0.0 <= sparsity <= 1.0:
        raise ConfigError(f"sparsity={sparsity} must be in [0, 1]")
    flat = _ordered_flat(scores, previous)
    shapes = {n: s.shape for n, s in scores.items()}
    if scope == "global":
        values = torch.cat(list(flat.values())) if flat else torch.zeros(0, dtype=torch.float64)
        k = prune_count(sparsity, values.numel())
        already = int(torch.isneginf(values).sum())
        if already > k:
            raise ConfigError(
                f"sparsity={sparsity} is below the {already / values.numel():.4f} the parent "
                f"mask already has; masks are nested, so sparsity can only grow"
            )
        keep = _prune_lowest(values, k)
        out, offset = {}, 0
        for name, s in flat.items():
            out[name] = keep[offset : offset + s.numel()].view(shapes[name])
            offset += s.numel()
        return Mask(out)
    if scope == "layerwise":
        out = {}
        for name, s in flat.items():
            k = prune_count(sparsity, s.numel())
            if int(torch.isneginf(s).sum()) > k:
                raise ConfigError(f"sparsity={sparsity} is below what the parent mask already prunes in {name}")
            out[name] = _prune_lowest(s, k).view(shapes[name])
        return Mask(out)
    raise ConfigError(f"scope={scope!r} is unknown (allowed: global, layerwise)")


def exact_count(
    keep: torch.Tensor,
    weight: torch.Tensor,
    original: torch.Tensor,
    sens: torch.Tensor,
    allowed: torch.Tensor,
    target: int,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Bring flat ``keep`` to ``target`` kept entries: drop surplus ones (lowest ``sens`` first) or add missing
    ones among ``allowed`` (highest ``sens`` first, with their ``original`` weight); ties are ordered as
    :func:`select` orders them (the lower flat index is pruned first, so it is added last). Used after a
    method whose count is approximate (SiPP's sampling) or was lowered (the propagation step)."""
    keep, weight = keep.clone(), weight.clone()
    kept = int(keep.sum())
    if kept > target:
        candidates = keep.nonzero().flatten()
        order = candidates[torch.sort(sens[candidates], stable=True).indices]
        drop = order[: kept - target]
        keep[drop] = False
        weight[drop] = 0.0
    elif kept < target:
        candidates = (~keep & allowed).nonzero().flatten()
        order = candidates[torch.sort(sens[candidates], stable=True).indices]
        add = order[len(order) - (target - kept) :] if target - kept <= len(order) else order
        keep[add] = True
        weight[add] = original[add]
    return keep, weight
