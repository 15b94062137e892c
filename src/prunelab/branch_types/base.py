"""What a branch type is, what its start gets and returns, and discovery of the type modules.

Nothing here imports torch: planning, ``prunelab audit`` and the figures' labels read each type's name, label,
config rules and defaults. A type's :attr:`BranchType.start` runs inside a branch job and imports what needs
torch (a fresh model, FLOP counts) when it is called.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from prunelab.discovery import declared
from prunelab.errors import ConfigError
from prunelab.training.schedules import iterations_per_epoch, to_iteration, total_iterations


@dataclass
class BranchStart:
    """Initial weights and training window of a branch."""

    state: dict  # model state_dict to load before training
    train: dict  # the training config actually run
    start_iteration: int
    optimizer_state: dict | None
    notes: dict  # recorded in metrics (e.g. Scratch-B epochs, FLOPs ratio)
    origin: str  # where the weights and the schedule start, in words (the job logs it)


@dataclass(frozen=True)
class StartContext:
    """Everything a branch may start from: its spec, the dense run's spec and snapshots, the mask and the
    weights the mask was chosen on (θ_T ⊙ m, or a method's updated weights)."""

    spec: dict  # the branch's run spec (JSON form)
    dense_spec: dict
    data: Any  # the dense run's TensorData
    mask: Any  # the prune run's Mask
    pruned_state: dict
    snapshots: dict[int, dict] | None  # the dense run's saved points {iteration: {"model", "optimizer"}}

    @property
    def train(self) -> dict:
        return self.spec["train"]

    def rewind_iteration(self) -> tuple[int, str]:
        """The spec's rewind point k in iterations, refused past the end of training, and k in words."""
        ipe = iterations_per_epoch(len(self.data.train_y), int(self.train["batch_size"]))
        k = to_iteration(self.spec["rewind"], ipe, "branches.rewind")
        end = total_iterations(self.train, ipe)
        if k > end:
            raise ConfigError(
                f"branch rewind point {self.spec['rewind']} (iteration {k}) is past the end of "
                f"training ({end} iterations)"
            )
        return k, f"iteration {k} (epoch {k / ipe:.3g}, {self.spec['rewind']})"

    def fresh(self, state: dict, train: dict | None = None, notes: dict | None = None) -> BranchStart:
        """A start from newly initialised weights (drawn from the branch's init seed), schedule from 0."""
        return BranchStart(
            state,
            self.train if train is None else train,
            0,
            None,
            notes or {},
            f"a fresh initialisation (seed {self.spec['seed']['init']}), schedule from iteration 0",
        )


@dataclass(frozen=True)
class BranchType:
    """A branch type: how planning resolves its config into a spec and how its job starts training.

    ``doc`` says, for people and ``docs/methods.md §3``, what the branch starts from, its learning-rate
    schedule and its length. The planning fields:

    * ``train_defaults`` override the dense run's training settings before the branch's own ``train`` does
      (fine-tuning's short constant-LR schedule);
    * ``takes_rewind``: the config's ``rewind`` key is required and names the rewind point k;
      ``fixed_rewind`` is the point a type always rewinds to (lottery: '0it'); any other type refuses the key;
    * ``from_snapshot``: training starts from the dense run's saved weights at k, so the dense run must save
      k, and ``optimizer_state: rewind`` may restore its optimizer state there too;
    * ``without_conv`` names the type this one computes exactly on a net without Conv2d layers (same mask,
      seed and schedule), so there it plans that type's run and the two share it.
    """

    name: str
    label: str  # what a reader sees in legends and table columns
    doc: str
    start: Callable[[StartContext], BranchStart]
    train_defaults: dict = field(default_factory=dict)
    takes_rewind: bool = False
    fixed_rewind: str | None = None
    from_snapshot: bool = False
    without_conv: str | None = None

    def rewind_point(self, given: str | None, key: str) -> str | None:
        """The rewind point of a branch config whose ``rewind`` key reads ``given`` (normalised; None when
        absent): the given point, the type's fixed one, or None for a type that does not rewind."""
        if self.takes_rewind:
            if given is None:
                raise ConfigError(
                    f"config key {key}.rewind: required for branch type '{self.name}' (e.g. '0it', '2ep')"
                )
            return given
        if given is not None and given != self.fixed_rewind:
            what = f"always rewinds to '{self.fixed_rewind}'" if self.fixed_rewind else "does not rewind"
            raise ConfigError(f"config key {key}.rewind: branch type '{self.name}' {what}")
        return self.fixed_rewind

    def runs_as(self, has_conv: bool) -> str:
        """The type whose run computes this branch on a net with (or without) Conv2d layers."""
        return self.without_conv if self.without_conv and not has_conv else self.name


@cache
def branch_types() -> dict[str, BranchType]:
    """Every branch type, discovered once from the modules of this package that export ``BRANCH_TYPE``."""
    return declared("prunelab.branch_types.catalog", BranchType, "BRANCH_TYPE")


def get_branch_type(name: str, key: str = "type") -> BranchType:
    """The type called ``name``; an unknown name is one line naming ``key`` and the known types."""
    registry = branch_types()
    if name not in registry:
        raise ConfigError(f"config key {key}: {name!r} is not a branch type (known: {', '.join(sorted(registry))})")
    return registry[name]
