"""The method interface, the scoring context, and discovery of the methods' declarations.

Nothing here imports torch: planning (and ``prunelab audit``, which plans configs) only needs each
method's name and hyperparameter fragment (types, bounds, defaults), which :mod:`prunelab.pruning.catalog`
declares. The module that scores or prunes is imported the first time a job asks for :attr:`Method.score`
or :attr:`Method.prune`.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from typing import TYPE_CHECKING

from prunelab.config import fragments
from prunelab.discovery import declared
from prunelab.errors import ConfigError

if TYPE_CHECKING:
    import torch
    from torch import nn

    from prunelab.data.tensors import TensorData
    from prunelab.training.masks import Mask


@dataclass
class PruneContext:
    """Everything a method may read. Methods must not mutate ``model``: they work on copies or through
    ``torch.func.functional_call`` (a test hashes the state dict before and after every method)."""

    model: nn.Module
    params: dict[str, torch.Tensor]  # prunable weights of ``model`` (live views), in selection order
    mask: Mask  # the current mask; all True before the first step
    sparsity: float | None  # this step's target (cumulative); None: the method's preset decides
    scope: str  # "global" or "layerwise"
    generator: torch.Generator  # the pruning seed's stream
    batches: list[tuple[torch.Tensor, torch.Tensor]] = field(default_factory=list)  # scoring data, eval transform
    data: TensorData | None = None  # the whole dataset, for methods that sample their own points
    at_init: bool = False  # scoring at initialisation (BatchNorm in train mode on a copy)
    # This step's set S (inputs, labels) once drawn: SiPP's sensitivities and the propagation step share it.
    sample_set: tuple[torch.Tensor, torch.Tensor] | None = None
    # A pruner's per-weight ranking, set by the pruner, that the propagation step's refill follows (SiPP: ŝ).
    ranking: dict[str, torch.Tensor] | None = None
    # Whether the step propagates after the method (hparam ``propagate``), and the weights it leaves alone: a
    # method that searches its budget (SiPP-rand, -hybrid) then searches on the count after propagation.
    propagating: bool = False
    exclude: tuple[str, ...] = ()


@dataclass(frozen=True)
class Method:
    """A pruning method: its hyperparameters, and which function of ``module`` computes it.

    ``hparams`` is a JSON-schema fragment (:func:`prunelab.config.fragments.closed`): each hyperparameter's type,
    bounds, ``default`` and ``description``. The defaults are part of every prune spec, so changing one
    changes the run hashes of that method.

    Exactly one of ``scorer`` (``score(ctx, **hparams) -> {name: tensor}``) and ``pruner``
    (``prune(ctx, **hparams) -> (Mask, updates)``) names a function of ``module``.
    """

    name: str
    hparams: dict  # JSON-schema fragment of the hyperparameters, defaults included
    module: str
    scorer: str | None = None
    pruner: str | None = None
    needs_data: bool = False
    data_source: str = "batches"  # "batches": ctx.batches from the spec's `scoring`; "dataset": draws from ctx.data
    updates_weights: bool = False
    own_sparsity: bool = False  # may run with sparsity null: its hparams (a preset) decide what is pruned
    # searches its budget on the kept count after propagation when ctx.propagating (torchprune's search does):
    # the propagation step then only tops up to the exact target instead of refilling by the ranking
    propagates_in_search: bool = False
    doc: str = ""

    def __post_init__(self) -> None:
        if (self.scorer is None) == (self.pruner is None):
            raise TypeError(f"method {self.name!r}: name exactly one of scorer and pruner")

    @property
    def score(self) -> Callable | None:
        """The scoring function (imports the implementation module), or None for a method that prunes."""
        return None if self.scorer is None else getattr(importlib.import_module(self.module), self.scorer)

    @property
    def prune(self) -> Callable | None:
        """The pruning function (imports the implementation module), or None for a method that scores."""
        return None if self.pruner is None else getattr(importlib.import_module(self.module), self.pruner)


@cache
def methods() -> dict[str, Method]:
    """All methods, discovered once from the catalog modules that export ``METHOD``/``METHODS``."""
    return declared("prunelab.pruning.catalog", Method, "METHOD", "METHODS")


def get_method(name: str, key: str = "method") -> Method:
    registry = methods()
    if name not in registry:
        raise ConfigError(f"config key {key}: method {name!r} is unknown (allowed: {', '.join(sorted(registry))})")
    return registry[name]


# Hyperparameters of the pruning step around a method rather than of its function: declared in the method's
# fragment like the others (so they are checked and, where set, part of the spec), consumed by
# :func:`prunelab.pruning.multistep.run_method`. ``propagate``: the step after pruning (prunelab.pruning.propagate).
STEP_HPARAMS = ("propagate",)


def split_hparams(hparams: dict) -> tuple[dict, dict]:
    """(the keyword arguments of the method's score/prune function, the step's options) of resolved hparams."""
    return (
        {k: v for k, v in hparams.items() if k not in STEP_HPARAMS},
        {k: v for k, v in hparams.items() if k in STEP_HPARAMS},
    )


def resolve_hparams(name: str, given: dict | None, key: str = "hparams") -> dict:
    """``given`` checked against method ``name``'s fragment, defaults filled in (idempotent)."""
    method = get_method(name, key.rsplit(".", 1)[0] + ".method" if "." in key else "method")
    return fragments.resolve(method.hparams, given, key, f"method '{name}'")
