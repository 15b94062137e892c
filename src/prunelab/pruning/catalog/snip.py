"""SNIP's declaration (implementation: :mod:`prunelab.pruning.snip`)."""

from prunelab.config.fragments import closed
from prunelab.pruning.base import Method
from prunelab.pruning.catalog import PROPAGATE_OPTIONAL

METHOD = Method(
    name="snip",
    hparams=closed(
        {
            "batchnorm": {
                "enum": ["running", "batch"],
                "default": "running",
                "description": "statistics BatchNorm normalises with while scoring: its running ones (eval mode, "
                "as SNIP's and Synaptic-Flow's code; at init mean 0, variance 1) or the scoring "
                "batch's (train mode on a copy)",
            },
            "propagate": PROPAGATE_OPTIONAL,
        }
    ),
    module="prunelab.pruning.snip",
    scorer="score",
    needs_data=True,
    doc="|g⊙θ| / Σ|g⊙θ| on the scoring batches (gradient summed over batches before abs)",
)
