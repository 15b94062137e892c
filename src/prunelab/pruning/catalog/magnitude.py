"""Magnitude pruning's declaration (implementation: :mod:`prunelab.pruning.magnitude`)."""

from prunelab.config.fragments import closed
from prunelab.pruning.base import Method
from prunelab.pruning.catalog import PROPAGATE_OPTIONAL

METHOD = Method(
    name="magnitude",
    hparams=closed({"propagate": PROPAGATE_OPTIONAL}),
    module="prunelab.pruning.magnitude",
    scorer="score",
    doc="|θ|; prune the smallest",
)
