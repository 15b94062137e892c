"""GraSP's declaration and hyperparameter checks (implementation: :mod:`prunelab.pruning.grasp`)."""

from prunelab.errors import ConfigError
from prunelab.pruning.base import Method


def check(hp: dict) -> None:
    if not hp["temperature"] > 0:
        raise ConfigError(f"grasp hparams.temperature={hp['temperature']} must be > 0")
    if not isinstance(hp["samples_per_class"], int) or hp["samples_per_class"] < 1:
        raise ConfigError(f"grasp hparams.samples_per_class={hp['samples_per_class']} must be an integer ≥ 1")
    if not isinstance(hp["reinit"], bool):
        raise ConfigError(f"grasp hparams.reinit={hp['reinit']!r} must be true or false")


METHOD = Method(name="grasp", hparams={"temperature": 200.0, "samples_per_class": 10, "reinit": True},
                module="prunelab.pruning.grasp", scorer="score", needs_data=True, data_source="dataset",
                check=check, doc="removes the largest -θ⊙Hg (score +θ⊙Hg, normalised), Hg by double backward")
