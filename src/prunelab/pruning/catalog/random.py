"""Random pruning's declaration (implementation: :mod:`prunelab.pruning.random`)."""

from prunelab.config.fragments import closed
from prunelab.pruning.base import Method

METHOD = Method(
    name="random",
    hparams=closed({}),
    module="prunelab.pruning.random",
    scorer="score",
    doc="uniform random scores (seeded)",
)
