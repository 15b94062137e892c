"""Magnitude pruning's declaration (implementation: :mod:`prunelab.pruning.magnitude`)."""

from prunelab.fragments import closed
from prunelab.pruning.base import Method

METHOD = Method(name="magnitude", hparams=closed({}), module="prunelab.pruning.magnitude", scorer="score",
                doc="|θ|; prune the smallest")
