"""Residual-block L1 filter pruning's declaration (implementation: :mod:`prunelab.pruning.l1_blocks`)."""

from prunelab.errors import ConfigError
from prunelab.pruning.base import Method


def check(hp: dict) -> None:
    ratios, skip = hp["stage_ratios"], hp["skip"]
    if ratios is not None and (not isinstance(ratios, list) or not ratios
                               or not all(isinstance(r, (int, float)) and 0 <= r < 1 for r in ratios)):
        raise ConfigError(f"l1_blocks hparams.stage_ratios={ratios!r} must be null or a list of fractions in [0, 1)")
    if not isinstance(skip, list) or not all(isinstance(i, int) and i >= 2 and i % 2 == 0 for i in skip):
        raise ConfigError(f"l1_blocks hparams.skip={skip!r} must list even conv ids (Liu's numbering, stem = 1)")


METHOD = Method(name="l1_blocks", hparams={"stage_ratios": None, "skip": []}, module="prunelab.pruning.l1_blocks",
                pruner="prune", check=check, own_sparsity=True,
                doc="structured: L1 filter pruning of each residual block's first conv (Li/Liu presets)")
