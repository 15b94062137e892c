"""WoodFisher's declaration (implementation: :mod:`prunelab.pruning.woodfisher`)."""

from prunelab.config.fragments import closed
from prunelab.pruning.base import Method
from prunelab.pruning.catalog import COMPENSATION

METHOD = Method(
    name="woodfisher",
    hparams=closed(
        {
            "num_grads": {
                "type": "integer",
                "minimum": 1,
                "default": 1000,
                "description": "N: gradients averaged into the empirical Fisher",
            },
            "fisher_mini_bsz": {
                "type": "integer",
                "minimum": 1,
                "default": 1,
                "description": "scoring examples per gradient",
            },
            "block_size": {
                "type": "integer",
                "minimum": 1,
                "default": 128,
                "description": "entries per diagonal block of the Fisher (inside each tensor)",
            },
            "damp": {
                "type": "number",
                "exclusiveMinimum": 0,
                "default": 1e-5,
                "description": "dampening λ of F̂ + λI, the Woodbury recursion's start",
            },
            "update": {
                **COMPENSATION,
                "default": "independent",
                "description": COMPENSATION["description"] + "; independent is the authors' (woodfisherblock.py)",
            },
        }
    ),
    module="prunelab.pruning.woodfisher",
    pruner="prune",
    needs_data=True,
    updates_weights=True,
    doc="OBS with a block-diagonal empirical Fisher, inverted by Woodbury updates or blockwise (WoodFisher)",
)
