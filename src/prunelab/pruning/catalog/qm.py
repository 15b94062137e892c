"""QM's declaration (implementation: :mod:`prunelab.pruning.qm`)."""

from prunelab.pruning import hparam_rules as rules
from prunelab.pruning.base import Method


def check(hparams: dict) -> None:
    rules.non_negative("qm", hparams, "lambda")


METHOD = Method(name="qm", hparams={"lambda": 0.0}, module="prunelab.pruning.qm", scorer="score", needs_data=True,
                check=check, doc="|−gθ + ½hθ²| + ½λθ² (quadratic loss model, GGN diagonal); prune the smallest")
