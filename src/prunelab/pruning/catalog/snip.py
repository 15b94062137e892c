"""SNIP's declaration (implementation: :mod:`prunelab.pruning.snip`)."""

from prunelab.fragments import closed
from prunelab.pruning.base import Method
from prunelab.pruning.catalog import PROPAGATE_OPTIONAL

METHOD = Method(name="snip", hparams=closed({"propagate": PROPAGATE_OPTIONAL}),
                module="prunelab.pruning.snip", scorer="score", needs_data=True,
                doc="|g⊙θ| / Σ|g⊙θ| on the scoring batches (gradient summed over batches before abs)")
