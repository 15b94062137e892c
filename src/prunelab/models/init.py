"""Weight initialisation schemes selectable per model (``model.init``).

``default`` keeps PyTorch's layer defaults. Laurent et al. use Kaiming-normal weights with zero biases;
Lee et al.'s and Wang et al.'s isometry studies use orthogonal or Xavier initialisations.
"""

from __future__ import annotations

from torch import nn

from prunelab.errors import ConfigError

INITS = ("default", "kaiming_normal", "xavier_normal", "orthogonal")


def initialize(model: nn.Module, scheme: str) -> None:
    """Re-initialise every conv/linear weight (and zero its bias) with ``scheme``, in module order."""
    if scheme not in INITS:
        raise ConfigError(f"model.init={scheme!r} is unknown (allowed: {', '.join(INITS)})")
    if scheme == "default":
        return
    for module in model.modules():
        if isinstance(module, (nn.Conv2d, nn.Linear)):
            if scheme == "kaiming_normal":
                nn.init.kaiming_normal_(module.weight, nonlinearity="relu")
            elif scheme == "xavier_normal":
                nn.init.xavier_normal_(module.weight)
            else:
                nn.init.orthogonal_(module.weight)
            if module.bias is not None:
                nn.init.zeros_(module.bias)
