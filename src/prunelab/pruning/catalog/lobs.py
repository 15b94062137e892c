"""Layer-wise OBS's declaration (implementation: :mod:`prunelab.pruning.lobs`)."""

from prunelab.pruning import hparam_rules as rules
from prunelab.pruning.base import Method

UPDATES = ("joint", "independent", "none")


def check(hparams: dict) -> None:
    rules.non_negative("lobs", hparams, "damp")
    rules.one_of("lobs", hparams, "update", UPDATES)


METHOD = Method(name="lobs", hparams={"damp": 1e-4, "update": "joint"}, module="prunelab.pruning.lobs",
                pruner="prune", needs_data=True, updates_weights=True, check=check,
                doc="layer-wise OBS: w²/(2[Ψ⁻¹]_jj) with Ψ the layer-input second moment, row-wise update")
