"""Exact OBS's declaration (implementation: :mod:`prunelab.pruning.obs`)."""

from prunelab.config.fragments import closed
from prunelab.pruning.base import Method

CURVATURES = ("ggn", "hessian")
UPDATES = ("greedy", "joint", "independent", "none")

METHOD = Method(
    name="obs",
    hparams=closed(
        {
            "curvature": {"enum": list(CURVATURES), "default": "ggn", "description": "the dense curvature matrix H"},
            "damp": {
                "type": "number",
                "minimum": 0,
                "default": 1e-4,
                "description": "added to the diagonal of H before inverting",
            },
            "update": {
                "enum": list(UPDATES),
                "default": "greedy",
                "description": "greedy (one weight at a time, H⁻¹ downdated), joint, independent or none",
            },
        }
    ),
    module="prunelab.pruning.obs",
    pruner="prune",
    needs_data=True,
    updates_weights=True,
    doc="exact OBS (dense damped GGN/Hessian, tiny nets): ΔL = θ²/(2[H⁻¹]_qq) with compensation",
)
