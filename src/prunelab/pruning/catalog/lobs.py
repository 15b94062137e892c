"""Layer-wise OBS's declaration (implementation: :mod:`prunelab.pruning.lobs`)."""

from prunelab.config.fragments import closed
from prunelab.pruning.base import Method
from prunelab.pruning.catalog import COMPENSATION

METHOD = Method(
    name="lobs",
    hparams=closed(
        {
            "damp": {
                "type": "number",
                "minimum": 0,
                "default": 1e-4,
                "description": "added to the diagonal of each layer's input second moment Ψ before inverting",
            },
            "update": COMPENSATION,
        }
    ),
    module="prunelab.pruning.lobs",
    pruner="prune",
    needs_data=True,
    updates_weights=True,
    doc="layer-wise OBS: w²/(2[Ψ⁻¹]_jj) with Ψ the layer-input second moment, row-wise update",
)
