"""Residual-block L1 filter pruning's declaration (implementation: :mod:`prunelab.pruning.l1_blocks`)."""

from prunelab.config.fragments import closed
from prunelab.pruning.base import Method

METHOD = Method(
    name="l1_blocks",
    hparams=closed(
        {
            "stage_ratios": {
                "type": ["array", "null"],
                "minItems": 1,
                "items": {"type": "number", "minimum": 0, "exclusiveMaximum": 1},
                "default": None,
                "description": "pruned fraction per stage (a preset; the experiment's sparsity is then null); "
                "null: every stage uses the run's sparsity",
            },
            "skip": {
                "type": "array",
                "items": {
                    "type": "integer",
                    "minimum": 2,
                    "multipleOf": 2,
                    "x-why": "skip lists even conv ids (Liu's numbering, stem = 1)",
                },
                "default": [],
                "description": "conv ids left intact (Liu's numbering, stem = 1; even ids only)",
            },
        }
    ),
    module="prunelab.pruning.l1_blocks",
    pruner="prune",
    own_sparsity=True,
    doc="structured: L1 filter pruning of each residual block's first conv (Li/Liu presets)",
)
