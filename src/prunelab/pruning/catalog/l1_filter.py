"""Structured L1 filter pruning's declaration (implementation: :mod:`prunelab.pruning.l1_filter`)."""

from prunelab.config.fragments import closed
from prunelab.pruning.base import Method

METHOD = Method(
    name="l1_filter",
    hparams=closed(
        {
            "layers": {
                "type": ["array", "null"],
                "items": {"type": "integer"},
                "default": None,
                "description": "prunable-tensor indices to prune; null: all but the last",
            },
        }
    ),
    module="prunelab.pruning.l1_filter",
    pruner="prune",
    doc="structured: remove the fraction pr (= sparsity) of units with the smallest L1 norm per layer",
)
