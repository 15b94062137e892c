"""The method interface, the scoring context, and discovery of method modules."""

from __future__ import annotations

import importlib
import pkgutil
from dataclasses import dataclass, field
from typing import Callable

import torch
from torch import nn

from prunelab.data import TensorData
from prunelab.errors import ConfigError
from prunelab.masks import Mask


@dataclass
class PruneContext:
    """Everything a method may read. Methods must not mutate ``model``: they work on copies or through
    ``torch.func.functional_call`` (a test hashes the state dict before and after every method)."""

    model: nn.Module
    params: dict[str, torch.Tensor]     # prunable weights of ``model`` (live views), in selection order
    mask: Mask                          # the current mask; all True before the first step
    sparsity: float | None              # this step's target (cumulative); None: the method's preset decides
    scope: str                          # "global" or "layerwise"
    generator: torch.Generator          # the pruning seed's stream
    batches: list[tuple[torch.Tensor, torch.Tensor]] = field(default_factory=list)  # scoring data, eval transform
    data: TensorData | None = None      # the whole dataset, for methods that sample their own points
    at_init: bool = False               # scoring at initialisation (BatchNorm in train mode on a copy)


@dataclass(frozen=True)
class Method:
    """A pruning method: its hyperparameters with defaults and one of ``score`` / ``prune``."""

    name: str
    hparams: dict
    score: Callable | None = None
    prune: Callable | None = None
    needs_data: bool = False
    data_source: str = "batches"   # "batches": ctx.batches from the spec's `scoring`; "dataset": draws from ctx.data
    updates_weights: bool = False
    own_sparsity: bool = False     # may run with sparsity null: its hparams (a preset) decide what is pruned
    check: Callable[[dict], None] | None = None   # semantic validation of resolved hparams
    doc: str = ""


_REGISTRY: dict[str, Method] = {}


def methods() -> dict[str, Method]:
    """All methods, discovered once from the modules of this package that export ``METHOD``/``METHODS``."""
    if not _REGISTRY:
        import prunelab.pruning as package

        for info in pkgutil.iter_modules(package.__path__):
            module = importlib.import_module(f"{package.__name__}.{info.name}")
            for method in [getattr(module, "METHOD", None), *getattr(module, "METHODS", ())]:
                if isinstance(method, Method):
                    _REGISTRY[method.name] = method
    return _REGISTRY


def get_method(name: str, key: str = "method") -> Method:
    registry = methods()
    if name not in registry:
        raise ConfigError(f"config key {key}: method {name!r} is unknown (allowed: {', '.join(sorted(registry))})")
    return registry[name]


def resolve_hparams(name: str, given: dict | None, key: str = "hparams") -> dict:
    """Defaults filled in, unknown names rejected, method-specific checks run."""
    method = get_method(name, key.rsplit(".", 1)[0] + ".method" if "." in key else "method")
    given = dict(given or {})
    unknown = sorted(set(given) - set(method.hparams))
    if unknown:
        allowed = ", ".join(sorted(method.hparams)) or "none"
        raise ConfigError(f"config key {key}: unknown hyperparameter(s) {', '.join(unknown)} for method '{name}' "
                          f"(allowed: {allowed})")
    resolved = {**method.hparams, **given}
    if method.check is not None:
        method.check(resolved)
    return resolved
