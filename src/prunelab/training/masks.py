"""Masks: ``{param_name: bool tensor}`` over the prunable weights, and the invariant that keeps them free.

Prunable parameters are the ``weight`` of every ``nn.Conv2d`` and ``nn.Linear`` (never biases or BatchNorm),
in ``named_parameters()`` order, minus any names listed in ``exclude``. True means kept.

Every path that zeroes pruned entries goes through the mask (:meth:`Mask.apply_`, :meth:`Mask.applied`,
:class:`MaskedParameters`), so "what pruned means" has one definition: scoring steps, branch starts,
isometry recovery and the training loops never multiply by a mask themselves.

The training invariant (docs/methods.md §1.5): pruned weights are exactly 0.0 for the rest of training. Installing
a mask zeroes the weights and the optimizer state at pruned entries; each step then masks the gradients with
one ``torch._foreach_mul_`` (so momentum and Adam moments stay 0 there). With weight, gradient and state at 0,
SGD, Adam and AdamW update a pruned entry by exactly 0, so the training loop skips the weight pass
(``apply``) after the step: it changed no bit (tests/test_masked_step.py) and only cost memory traffic. No
``torch.nn.utils.prune`` hooks: they re-derive the weight on every forward and cost 1.33× per step on an H100.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from prunelab.errors import CheckpointError, ConfigError
from prunelab.records.storage import load_tensors, save_tensors

OPTIMIZER_STATE_KEYS = ("momentum_buffer", "exp_avg", "exp_avg_sq", "max_exp_avg_sq")


def prunable_parameters(model: nn.Module, exclude: list[str] | tuple[str, ...] = ()) -> dict[str, nn.Parameter]:
    """Conv/linear weights by parameter name, in ``named_parameters()`` order, minus ``exclude``."""
    weights = {
        id(m.weight)
        for m in model.modules()
        if isinstance(m, (nn.Conv2d, nn.Linear)) and getattr(m, "weight", None) is not None
    }
    names = [n for n, p in model.named_parameters() if id(p) in weights]
    unknown = sorted(set(exclude) - set(names))
    if unknown:
        raise ConfigError(f"prune.exclude names unknown parameters {unknown} (prunable: {names})")
    return {n: p for n, p in model.named_parameters() if id(p) in weights and n not in exclude}


class Mask(dict):
    """``{name: bool tensor}``, True = kept."""

    @classmethod
    def ones_like(cls, params: dict[str, torch.Tensor]) -> Mask:
        return cls({n: torch.ones_like(p, dtype=torch.bool) for n, p in params.items()})

    @property
    def total(self) -> int:
        return sum(m.numel() for m in self.values())

    @property
    def kept(self) -> int:
        return int(sum(int(m.sum()) for m in self.values()))

    @property
    def sparsity(self) -> float:
        return 1.0 - self.kept / self.total if self.total else 0.0

    def report(self) -> dict:
        """Global and per-tensor counts, the form stored in every run's metrics."""
        layers = {
            n: {"total": m.numel(), "kept": int(m.sum()), "sparsity": 1.0 - int(m.sum()) / m.numel()}
            for n, m in self.items()
        }
        return {"total": self.total, "kept": self.kept, "sparsity": self.sparsity, "layers": layers}

    def factor(self, name: str, like: torch.Tensor) -> torch.Tensor:
        """The mask of ``name`` as a 0/1 multiplier with ``like``'s dtype, device and shape (a view of it may
        be a reshaped weight, as in the isometry code)."""
        return self[name].to(device=like.device, dtype=like.dtype).reshape(like.shape)

    @torch.no_grad()
    def apply_(self, tensors: dict[str, torch.Tensor]) -> None:
        """Zero the pruned entries of the named tensors in place; names the mask does not cover are left alone."""
        for name, t in tensors.items():
            if name in self:
                t.mul_(self.factor(name, t))

    def applied(self, state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """A copy of ``state`` (e.g. a loaded state dict) with the pruned entries zeroed: θ ⊙ m."""
        return {k: (v * self.factor(k, v) if k in self else v) for k, v in state.items()}

    def to(self, device: torch.device | str) -> Mask:
        return Mask({n: m.to(device) for n, m in self.items()})

    def check_matches(self, model: nn.Module, where: str = "mask") -> None:
        params = dict(model.named_parameters())
        for name, m in self.items():
            if name not in params:
                raise CheckpointError(f"{where}: parameter {name!r} is not in the model")
            if tuple(params[name].shape) != tuple(m.shape):
                raise CheckpointError(
                    f"{where}: {name} has shape {tuple(m.shape)}, model has {tuple(params[name].shape)}"
                )

    def save(self, path: str | Path) -> None:
        save_tensors(path, {n: m.cpu() for n, m in self.items()})

    @classmethod
    def load(cls, path: str | Path, producer: str | None = "prune") -> Mask:
        data = load_tensors(path, producer)
        if not isinstance(data, dict) or not all(
            isinstance(v, torch.Tensor) and v.dtype == torch.bool for v in data.values()
        ):
            raise CheckpointError(f"{path}: not a mask file (expected name -> bool tensor)")
        return cls(data)


class MaskedParameters:
    """The per-step mask work of a training loop: weights, gradients, optimizer state and the invariant.

    Holds parallel lists of parameters and 0/1 factors, precomputed so each step is one ``_foreach_mul_``.
    A parameter may be one model's weight (:meth:`__init__`) or K models' weights stacked along a leading
    dimension (:meth:`stacked`, for grouped training); either way the operations are the same element-wise
    products, and the invariant may be checked for a subset of the stacked members (those still training).
    """

    def __init__(self, model: nn.Module, mask: Mask):
        mask.check_matches(model)
        params = dict(model.named_parameters())
        self.names = list(mask)
        self.params = [params[n] for n in self.names]
        self.factors = [mask.factor(n, params[n]) for n in self.names]
        self.stacked_members = False

    @classmethod
    def stacked(cls, params: dict[str, torch.Tensor], masks: list[Mask | None], where: str) -> MaskedParameters:
        """Masks of K models over their stacked parameters ``{name: (K, ...)}``; a model without a mask (or a
        name its mask does not cover) keeps everything. ``where`` names the group in a shape error."""
        self = cls.__new__(cls)
        self.names = [n for n in params if any(m is not None and n in m for m in masks)]
        self.params = [params[n] for n in self.names]
        self.factors = []
        for name, p in zip(self.names, self.params):
            own = [m[name] if m is not None and name in m else torch.ones(p.shape[1:], dtype=torch.bool) for m in masks]
            for m in own:
                if tuple(m.shape) != tuple(p.shape[1:]):
                    raise CheckpointError(
                        f"{where}: mask for {name} has shape {tuple(m.shape)}, model has {tuple(p.shape[1:])}"
                    )
            self.factors.append(torch.stack([m.to(p.device, p.dtype) for m in own]))
        self.stacked_members = True
        return self

    def install(self, optimizer: torch.optim.Optimizer | None = None) -> None:
        """Zero pruned weights and, if given, the optimizer state at pruned entries."""
        self.apply()
        if optimizer is not None:
            for p, f in zip(self.params, self.factors):
                for key in OPTIMIZER_STATE_KEYS:
                    buf = optimizer.state.get(p, {}).get(key)
                    if isinstance(buf, torch.Tensor) and buf.shape == p.shape:
                        buf.mul_(f)

    def mask_gradients(self) -> None:
        grads = [p.grad for p in self.params if p.grad is not None]
        if grads:
            torch._foreach_mul_(grads, [f for p, f in zip(self.params, self.factors) if p.grad is not None])

    @torch.no_grad()
    def apply(self) -> None:
        if self.params:
            torch._foreach_mul_(self.params, self.factors)

    def assert_invariant(self, where: str, members: list[int] | None = None) -> None:
        """Every pruned weight is exactly 0.0 (of the stacked ``members`` only, if given); a violation is a
        bug, so it stops the run."""
        for name, p, f in zip(self.names, self.params, self.factors):
            p = p.detach()
            if members is not None and self.stacked_members:
                p, f = p[members], f[members]
            if bool((p[f == 0] != 0).any()):
                raise RuntimeError(f"mask invariant broken at {where}: {name} has non-zero pruned weights")
