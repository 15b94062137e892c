"""The one training loop, shared by a single run (:class:`~prunelab.training.single_model.Trainer`) and a seed
group trained in lockstep (:class:`~prunelab.training.stacked.GroupedTrainer`).

The loop knows iterations, epochs, save points, checkpoints and divergence; what one step, one evaluation
or one resume state *is* belongs to the body that trains (a :class:`LoopBody`), which holds K ≥ 1 members
(K = 1 for a single run). Keeping the when (here) apart from the what (the body) is what lets the two
trainers stay identical in everything the issue found drifting — wall-time checkpoints, exact resume,
``on_divergence: record`` — and lets a distributed body plug in with the same policies.

Resume is exact because the loop state is a function of the iteration: the schedule and the data stream
depend only on the absolute iteration and ``(data_seed, epoch)``, so the saved state is the body's tensors
plus the partial epoch's losses, the per-member histories, best rows and snapshots taken so far.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import torch

from prunelab.errors import CheckpointError, DivergenceError
from prunelab.progress import Progress
from prunelab.records.storage import load_tensors, save_tensors
from prunelab.training.schedules import BEST, learning_rate


@dataclass
class TrainOutcome:
    """What a finished loop hands back: per-epoch history, final and best-validation metrics, snapshots."""

    history: list[dict]
    final: dict
    best: dict
    snapshots: dict[int | str, dict] = field(default_factory=dict)  # by save iteration; BEST if kept
    iterations: int = 0
    epochs: float = 0.0


class CheckpointPolicy:
    """When the loop writes its resume state to ``path``: every ``every`` iterations and, where a job can be
    preempted, whenever ``seconds`` of wall time (read from ``clock``, a fake one in tests) passed since the
    last save. ``path`` None or ``seconds`` 0 turns the respective saving off. ``writes`` False: a DDP rank
    other than 0, which keeps the same schedule and checks but leaves writing the one file to rank 0."""

    def __init__(
        self,
        path: str | Path | None,
        every: int,
        seconds: float = 0.0,
        clock: Callable[[], float] = time.monotonic,
        writes: bool = True,
    ):
        self.path, self.writes = (Path(path) if path else None), writes
        self.every, self.seconds, self.clock = max(1, int(every)), float(seconds), clock
        self.last = 0.0

    def restart(self) -> None:
        """Start the wall-time interval (at the start of a run)."""
        self.last = self.clock()

    def saved(self, iteration: int) -> None:
        """Called after each save at ``iteration``: the wall-time interval starts again."""
        self.restart()

    def wall_due(self) -> bool:
        return self.path is not None and self.seconds > 0 and self.clock() - self.last >= self.seconds

    def interval_due(self, iteration: int) -> bool:
        return iteration % self.every == 0


class DivergencePolicy:
    """What a member whose loss or weights stop being finite does to the loop.

    ``fail`` stops it with a :class:`DivergenceError` naming every bad member; ``record`` keeps that error as
    the member's outcome and lets the other members finish (the job then writes the member's outputs marked
    diverged). A single run raises either way: it has no other member to finish, and its job records the
    error it catches.
    """

    def __init__(self, mode: str = "fail"):
        if mode not in ("fail", "record"):
            raise ValueError(f"on_divergence={mode!r} (allowed: fail, record)")
        self.mode = mode

    def handle(self, errors: dict[int, DivergenceError]) -> None:
        if errors and self.mode == "fail":
            if len(errors) == 1:
                raise next(iter(errors.values()))
            first = min(errors.values(), key=lambda e: e.iteration)
            raise DivergenceError(
                "; ".join(str(errors[k]) for k in sorted(errors)), epoch=first.epoch, iteration=first.iteration
            )


class LoopBody(Protocol):
    """What the loop asks of a trainer with ``members`` models; rows, snapshots and errors are per member."""

    members: int
    device: torch.device
    progress: Progress

    def batches(self, epoch: int, first: int) -> Iterator[tuple[torch.Tensor, torch.Tensor]]: ...

    def step(self, xb: torch.Tensor, yb: torch.Tensor, lr: float) -> torch.Tensor: ...

    def progress_line(self, epoch: int, iteration: int, loss: torch.Tensor) -> str: ...

    def snapshots(self) -> list[dict]: ...

    def divergences(
        self, losses: list[torch.Tensor], first_iteration: int, epoch: int, live: list[int]
    ) -> dict[int, DivergenceError]: ...

    def assert_invariant(self, where: str, live: list[int]) -> None: ...

    def evaluate_epoch(
        self, epoch: int, iteration: int, losses: list[torch.Tensor], lr: float, seconds: float, live: list[int]
    ) -> dict[int, dict]: ...

    def state(self) -> dict: ...

    def load_state(self, state: dict, path: Path) -> None: ...

    def diverged(self, k: int, error: DivergenceError) -> None: ...


class TrainingLoop:
    """Run ``body`` from ``start`` to ``end`` iterations; ``run()`` returns per member a :class:`TrainOutcome`,
    or the :class:`DivergenceError` of a member recorded as diverged.

    The best epoch is chosen on validation accuracy. Without a validation split there is no best epoch (the
    outcome's ``best`` is empty): choosing it on test accuracy would report a test number selected on the
    test set. Logs still show test accuracy every epoch.
    """

    def __init__(
        self,
        body: LoopBody,
        *,
        start: int,
        end: int,
        ipe: int,
        save_points: list[int],
        keep_best: bool = False,
        train: dict,
        checkpoints: CheckpointPolicy,
        divergence: DivergencePolicy,
        has_validation: bool,
        log_label: str,
        log: Callable[[str], None],
    ):
        self.body, self.start, self.end, self.ipe, self.train = body, start, end, ipe, train
        self.save_points, self.checkpoints, self.divergence = save_points, checkpoints, divergence
        self.keep_best = keep_best
        self.select_on = "val_acc" if has_validation else None
        self.log_label, self.log = log_label, log
        k = body.members
        self.histories: list[list[dict]] = [[] for _ in range(k)]
        self.bests: list[dict] = [{} for _ in range(k)]
        self.snapshots: list[dict[int | str, dict]] = [{} for _ in range(k)]  # by iteration, and BEST
        self.errors: dict[int, DivergenceError] = {}

    @property
    def live(self) -> list[int]:
        return [k for k in range(self.body.members) if k not in self.errors]

    def _take_snapshots(self, iteration: int) -> None:
        for k, snap in enumerate(self.body.snapshots()):
            self.snapshots[k][iteration] = snap

    def _check(self, losses: list, first_iteration: int, epoch: int) -> None:
        errors = self.body.divergences(losses, first_iteration, epoch, self.live)
        self.divergence.handle(errors)
        for k, error in errors.items():
            self.errors[k] = error
            self.body.diverged(k, error)
            self.log(f"{error} (recorded as diverged; the other members go on)")

    def _record_epoch(self, rows: dict[int, dict]) -> None:
        improved = []
        for k, row in rows.items():
            self.histories[k].append(row)
            best = self.bests[k]
            if self.select_on is not None and (not best or row[self.select_on] > best[self.select_on]):
                best.clear()
                best.update(row)
                improved.append(k)
        if self.keep_best and improved:  # save point `best`: these weights replace the member's previous best
            snapshots = self.body.snapshots()
            for k in improved:
                self.snapshots[k][BEST] = snapshots[k]

    def _save(self, iteration: int, epoch_losses: list) -> None:
        path = self.checkpoints.path
        if path is None:
            return
        self.body.assert_invariant(f"checkpoint at iteration {iteration}", self.live)
        if not self.checkpoints.writes:
            return
        save_tensors(
            path,
            {
                **self.body.state(),
                "iteration": iteration,
                "epoch_losses": [loss.cpu() for loss in epoch_losses],
                "histories": self.histories,
                "bests": self.bests,
                "snapshots": self.snapshots,
                "diverged": {k: (str(e), e.epoch, e.iteration) for k, e in self.errors.items()},
            },
        )

    def _resume(self) -> tuple[int, list] | None:
        path = self.checkpoints.path
        if path is None or not path.exists():
            return None
        state = load_tensors(path, producer="this run (resume checkpoint)")
        if "histories" not in state:  # the per-member layout came with the shared loop
            raise CheckpointError(
                f"{path}: resume checkpoint from an older prunelab (no per-member state); delete it to restart the run"
            )
        self.body.load_state(state, path)
        self.histories, self.bests, self.snapshots = state["histories"], state["bests"], state["snapshots"]
        self.errors = {
            k: DivergenceError(message, epoch=epoch, iteration=iteration)
            for k, (message, epoch, iteration) in state["diverged"].items()
        }
        self.log(f"[{self.log_label}] resumed from {path} at iteration {state['iteration']}")
        return state["iteration"], [loss.to(self.body.device) for loss in state["epoch_losses"]]

    def run(self) -> list[TrainOutcome | DivergenceError]:
        body, it, epoch_losses = self.body, self.start, []
        resumed = self._resume()
        if resumed is not None:
            it, epoch_losses = resumed
        elif it in self.save_points:
            self._take_snapshots(it)
        lr = learning_rate(self.train, it, self.ipe) if it < self.end else float("nan")
        started = time.perf_counter()
        self.checkpoints.restart()
        while it < self.end and self.live:
            wall_due = False
            epoch, first = divmod(it, self.ipe)
            epoch_first_it = it - len(epoch_losses)
            for xb, yb in body.batches(epoch, first):
                lr = learning_rate(self.train, it, self.ipe)
                loss = body.step(xb, yb, lr)
                epoch_losses.append(loss)
                it += 1
                body.progress.tick(lambda: body.progress_line(epoch, it, loss))
                if it in self.save_points:
                    self._take_snapshots(it)
                wall_due = self.checkpoints.wall_due()
                if it >= self.end or self.checkpoints.interval_due(it) or wall_due:
                    break
            if it % self.ipe == 0 or it >= self.end:
                self._check(epoch_losses, epoch_first_it, epoch + 1)
                body.assert_invariant(f"end of epoch {epoch + 1}", self.live)
                self._record_epoch(
                    body.evaluate_epoch(
                        -(-it // self.ipe), it, epoch_losses, lr, time.perf_counter() - started, self.live
                    )
                )
                body.progress.logged()
                epoch_losses = []
                started = time.perf_counter()
            if it < self.end and (self.checkpoints.interval_due(it) or wall_due):
                self._check(epoch_losses, epoch_first_it, epoch + 1)
                self._save(it, epoch_losses)
                self.checkpoints.saved(it)
        if not any(self.histories):  # zero-length run (e.g. prune at init with no training): still report
            self._record_epoch(body.evaluate_epoch(0, it, [], lr, 0.0, self.live))
        return [
            self.errors[k]
            if k in self.errors
            else TrainOutcome(
                history=h, final=dict(h[-1]), best=dict(b), snapshots=s, iterations=it, epochs=it / self.ipe
            )
            for k, (h, b, s) in enumerate(zip(self.histories, self.bests, self.snapshots))
        ]
