"""Restoring dynamical isometry after pruning, before fine-tuning (Wang et al. 2021; Lee et al. 2020).

docs/methods.md §2.10. Both functions change the model *in place*: call them on the copy a branch is about to
fine-tune.

- :func:`orthp_` — Wang's OrthP, "exact isometry based on existing weights": each Conv/Linear weight,
  viewed as M (out × in·k·k), is replaced by gain·Q from the QR factorisation of M (of Mᵀ when M is
  wide), with Q's columns signed by diag R so that a matrix that already has orthonormal rows or columns is
  returned unchanged. gain = ``torch.nn.init.calculate_gain(nonlinearity)`` (1 linear, √2 ReLU). Wang
  applies it to the physically compacted net; under a structured mask (:mod:`prunelab.pruning.l1_filter`)
  the kept entries of each tensor form a rows × columns rectangle and OrthP acts on that block, which is
  the same thing. An unstructured mask has no such block, and is rejected: use the masked AI instead.
- :func:`approximate_isometry_` — Lee et al.'s approximate isometry under a mask: Adam on
  MSE(W Wᵀ, I) per tensor, multiplying by the mask after every step so pruned entries stay exactly 0.
  Wang's code rebuilds its Adam optimiser at every iteration; we keep one optimiser per tensor, as Lee et
  al. describe.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from prunelab.errors import ConfigError, PrunelabError
from prunelab.training.masks import Mask


def _weights(model: nn.Module) -> dict[str, nn.Parameter]:
    owned = {id(m.weight) for m in model.modules() if isinstance(m, (nn.Conv2d, nn.Linear))}
    return {n: p for n, p in model.named_parameters() if id(p) in owned}


def orthogonalize(weight: torch.Tensor, gain: float = 1.0) -> torch.Tensor:
    """gain·Q of the sign-fixed QR of ``weight`` viewed as (out, −1); orthonormal rows if wide, else columns."""
    m = weight.detach().reshape(weight.shape[0], -1)
    wide = m.shape[0] < m.shape[1]
    q, r = torch.linalg.qr(m.T if wide else m)
    signs = torch.sign(torch.diagonal(r))
    q = q * torch.where(signs == 0, torch.ones_like(signs), signs)
    return (gain * (q.T if wide else q)).reshape(weight.shape)


def _gain(nonlinearity: str) -> float:
    try:
        return nn.init.calculate_gain(nonlinearity)
    except ValueError:
        raise ConfigError(
            f"OrthP nonlinearity={nonlinearity!r} is unknown (allowed: linear, relu, tanh, sigmoid, leaky_relu, selu)"
        ) from None


@torch.no_grad()
def orthp_(model: nn.Module, nonlinearity: str = "relu", mask: Mask | None = None) -> None:
    """OrthP on every Conv/Linear weight of ``model``; under ``mask``, on each tensor's kept block."""
    gain = _gain(nonlinearity)
    for name, weight in _weights(model).items():
        if mask is None or name not in mask:
            weight.copy_(orthogonalize(weight, gain))
            continue
        keep = mask[name].to(weight.device).reshape(weight.shape[0], -1)
        rows, cols = keep.any(1), keep.any(0)
        if not bool(torch.equal(keep, rows.unsqueeze(1) & cols.unsqueeze(0))):
            raise PrunelabError(
                f"OrthP needs a structured mask (kept entries of each tensor forming whole rows "
                f"and columns); {name} is pruned unstructured - use the masked approximate "
                f"isometry instead"
            )
        block = weight.reshape(weight.shape[0], -1)[rows][:, cols]
        new = torch.zeros_like(weight).reshape(weight.shape[0], -1)
        if block.numel():
            new[rows.nonzero().flatten().unsqueeze(1), cols.nonzero().flatten()] = orthogonalize(block, gain)
        weight.copy_(new.reshape(weight.shape))


def isometry_gap(weight: torch.Tensor) -> float:
    """‖W Wᵀ − I‖_F for ``weight`` viewed as (out, −1)."""
    m = weight.detach().reshape(weight.shape[0], -1)
    return float(torch.linalg.matrix_norm(m @ m.T - torch.eye(m.shape[0], dtype=m.dtype, device=m.device)))


def approximate_isometry_(
    model: nn.Module, mask: Mask | None, iterations: int = 10_000, lr: float = 1e-3
) -> dict[str, tuple[float, float]]:
    """Adam on MSE(W Wᵀ, I) per Conv/Linear weight, re-masking every step; returns {name: (gap before, after)}."""
    if iterations < 0 or lr <= 0:
        raise ConfigError(f"approximate isometry: iterations={iterations} must be ≥ 0 and lr={lr} > 0")
    gaps = {}
    masking = mask if mask is not None else Mask()  # applied to the (out, -1) view; uncovered names stay dense
    for name, weight in _weights(model).items():
        w = weight.detach().reshape(weight.shape[0], -1).clone().requires_grad_(True)
        masking.apply_({name: w})
        before = isometry_gap(w)
        eye = torch.eye(w.shape[0], dtype=w.dtype, device=w.device)
        optimizer = torch.optim.Adam([w], lr=lr)
        for _ in range(iterations):
            optimizer.zero_grad()
            F.mse_loss(w @ w.T, eye).backward()
            optimizer.step()
            masking.apply_({name: w})
        with torch.no_grad():
            weight.copy_(w.reshape(weight.shape))
        gaps[name] = (before, isometry_gap(w))
    return gaps
