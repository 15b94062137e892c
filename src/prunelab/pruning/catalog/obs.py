"""Exact OBS's declaration (implementation: :mod:`prunelab.pruning.obs`)."""

from prunelab.pruning import hparam_rules as rules
from prunelab.pruning.base import Method

CURVATURES = ("ggn", "hessian")
UPDATES = ("greedy", "joint", "independent", "none")


def check(hparams: dict) -> None:
    rules.one_of("obs", hparams, "curvature", CURVATURES)
    rules.non_negative("obs", hparams, "damp")
    rules.one_of("obs", hparams, "update", UPDATES)


METHOD = Method(name="obs", hparams={"curvature": "ggn", "damp": 1e-4, "update": "greedy"},
                module="prunelab.pruning.obs", pruner="prune", needs_data=True, updates_weights=True, check=check,
                doc="exact OBS (dense damped GGN/Hessian, tiny nets): ΔL = θ²/(2[H⁻¹]_qq) with compensation")
