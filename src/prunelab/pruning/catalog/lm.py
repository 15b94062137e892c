"""LM's declaration (implementation: :mod:`prunelab.pruning.lm`)."""

from prunelab.pruning import hparam_rules as rules
from prunelab.pruning.base import Method


def check(hparams: dict) -> None:
    rules.non_negative("lm", hparams, "lambda")


METHOD = Method(name="lm", hparams={"lambda": 0.0}, module="prunelab.pruning.lm", scorer="score", needs_data=True,
                check=check, doc="|−gθ| + ½λθ² (linear loss model); prune the smallest")
