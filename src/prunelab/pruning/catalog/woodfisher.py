"""WoodFisher's declaration (implementation: :mod:`prunelab.pruning.woodfisher`)."""

from prunelab.pruning import hparam_rules as rules
from prunelab.pruning.base import Method

UPDATES = ("joint", "independent", "none")


def check(hparams: dict) -> None:
    for key in ("num_grads", "fisher_mini_bsz", "block_size"):
        rules.positive_int("woodfisher", hparams, key)
    rules.positive("woodfisher", hparams, "damp")
    rules.one_of("woodfisher", hparams, "update", UPDATES)


METHOD = Method(name="woodfisher",
                hparams={"num_grads": 1000, "fisher_mini_bsz": 1, "block_size": 128, "damp": 1e-5,
                         "update": "joint"},
                module="prunelab.pruning.woodfisher", pruner="prune", needs_data=True, updates_weights=True,
                check=check,
                doc="OBS with a block-diagonal empirical Fisher, inverted by Woodbury updates or blockwise (WoodFisher)")
