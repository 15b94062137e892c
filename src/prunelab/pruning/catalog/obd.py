"""OBD's declaration; the curvature diagonals it may use are named here so planning needs no torch
(implementation: :mod:`prunelab.pruning.obd`, the diagonals in :mod:`prunelab.pruning.curvature`)."""

from prunelab.config.fragments import closed
from prunelab.pruning.base import Method
from prunelab.pruning.catalog import LOCALITY

DIAGONALS = ("ggn", "empirical_fisher", "mc_fisher", "hessian", "hutchinson")

METHOD = Method(
    name="obd",
    hparams=closed(
        {
            "curvature": {"enum": list(DIAGONALS), "default": "ggn", "description": "the curvature diagonal h"},
            "samples": {
                "type": "integer",
                "minimum": 1,
                "default": 1,
                "description": "labels drawn per example (mc_fisher) or Rademacher probes (hutchinson)",
            },
            "lambda": LOCALITY,
        }
    ),
    module="prunelab.pruning.obd",
    scorer="score",
    needs_data=True,
    doc="|½hθ²| + ½λθ² with a curvature diagonal h; prune the smallest",
)
