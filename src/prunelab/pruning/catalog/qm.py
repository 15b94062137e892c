"""QM's declaration (implementation: :mod:`prunelab.pruning.qm`)."""

from prunelab.config.fragments import closed
from prunelab.pruning.base import Method
from prunelab.pruning.catalog import LOCALITY

METHOD = Method(
    name="qm",
    hparams=closed({"lambda": LOCALITY}),
    module="prunelab.pruning.qm",
    scorer="score",
    needs_data=True,
    doc="|−gθ + ½hθ²| + ½λθ² (quadratic loss model, GGN diagonal); prune the smallest",
)
