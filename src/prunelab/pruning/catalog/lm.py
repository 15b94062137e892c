"""LM's declaration (implementation: :mod:`prunelab.pruning.lm`)."""

from prunelab.config.fragments import closed
from prunelab.pruning.base import Method
from prunelab.pruning.catalog import LOCALITY

METHOD = Method(
    name="lm",
    hparams=closed({"lambda": LOCALITY}),
    module="prunelab.pruning.lm",
    scorer="score",
    needs_data=True,
    doc="|−gθ| + ½λθ² (linear loss model); prune the smallest",
)
