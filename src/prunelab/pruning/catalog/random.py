"""Random pruning's declaration (implementation: :mod:`prunelab.pruning.random`)."""

from prunelab.pruning.base import Method

METHOD = Method(name="random", hparams={}, module="prunelab.pruning.random", scorer="score",
                doc="uniform random scores (seeded)")
