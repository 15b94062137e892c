"""Magnitude pruning's declaration (implementation: :mod:`prunelab.pruning.magnitude`)."""

from prunelab.pruning.base import Method

METHOD = Method(name="magnitude", hparams={}, module="prunelab.pruning.magnitude", scorer="score",
                doc="|θ|; prune the smallest")
