"""Structured L1 filter pruning's declaration (implementation: :mod:`prunelab.pruning.l1_filter`)."""

from prunelab.errors import ConfigError
from prunelab.pruning.base import Method


def check(hp: dict) -> None:
    layers = hp["layers"]
    if layers is not None and (not isinstance(layers, list) or not all(isinstance(i, int) for i in layers)):
        raise ConfigError(f"l1_filter hparams.layers={layers!r} must be null (all but the last) or a list of "
                          f"prunable-tensor indices")


METHOD = Method(name="l1_filter", hparams={"layers": None}, module="prunelab.pruning.l1_filter", pruner="prune",
                check=check,
                doc="structured: remove the fraction pr (= sparsity) of units with the smallest L1 norm per layer")
