"""OBD's declaration; the curvature diagonals it may use are named here so planning needs no torch
(implementation: :mod:`prunelab.pruning.obd`, the diagonals in :mod:`prunelab.curvature`)."""

from prunelab.pruning import hparam_rules as rules
from prunelab.pruning.base import Method

DIAGONALS = ("ggn", "empirical_fisher", "mc_fisher", "hessian", "hutchinson")


def check(hparams: dict) -> None:
    rules.one_of("obd", hparams, "curvature", DIAGONALS)
    rules.positive_int("obd", hparams, "samples")
    rules.non_negative("obd", hparams, "lambda")


METHOD = Method(name="obd", hparams={"curvature": "ggn", "samples": 1, "lambda": 0.0}, module="prunelab.pruning.obd",
                scorer="score", needs_data=True, check=check,
                doc="|½hθ²| + ½λθ² with a curvature diagonal h; prune the smallest")
