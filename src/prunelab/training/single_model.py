"""Training one model: device-resident batches, masked steps, evaluation, the resume state of one run.

One trainer serves dense training and every branch. It is the one-member body of the shared loop
(:mod:`prunelab.training.loop`), which decides when to step, evaluate, snapshot and checkpoint (every
``checkpoint_every`` and, on a cluster where a job can be preempted, every ``checkpoint_seconds`` of wall
time) and what a divergence does. The mutable state is the model, the optimizer and the global RNG; a rerun
after a kill resumes from ``train_state.pt`` and finishes with weights bit-identical to an uninterrupted run
on CPU (where a checkpoint falls does not change the result: the loop state is a function of the iteration).
"""

from __future__ import annotations

import copy
import random
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from prunelab.data.batches import eval_batches
from prunelab.data.tensors import TensorData
from prunelab.errors import ConfigError, DivergenceError
from prunelab.progress import Progress
from prunelab.training import distributed
from prunelab.training.acceleration import TrainingStep
from prunelab.training.loop import CheckpointPolicy, DivergencePolicy, TrainingLoop, TrainOutcome
from prunelab.training.masks import Mask, MaskedParameters
from prunelab.training.schedules import BEST, iterations_per_epoch, save_iterations, to_iteration, total_iterations

EVAL_BATCH = 1000


def build_optimizer(model: nn.Module, train: dict) -> torch.optim.Optimizer:
    name = train.get("optimizer", "sgd")
    lr, wd = float(train["lr"]), float(train.get("weight_decay", 0.0))
    if name == "sgd":
        return torch.optim.SGD(
            model.parameters(),
            lr=lr,
            momentum=float(train.get("momentum", 0.0)),
            nesterov=bool(train.get("nesterov", False)),
            weight_decay=wd,
        )
    if name == "adam":
        return torch.optim.Adam(model.parameters(), lr=lr, weight_decay=wd)
    if name == "adamw":
        return torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=wd)
    raise ConfigError(f"train.optimizer={name!r} is unknown (allowed: sgd, adam, adamw)")


@torch.no_grad()
def evaluate(model: nn.Module, x: torch.Tensor, y: torch.Tensor, batch_size: int = EVAL_BATCH) -> dict:
    """Mean cross-entropy and accuracy (%) in eval mode; NaN for an empty split."""
    if len(y) == 0:
        return {"loss": float("nan"), "acc": float("nan")}
    was_training = model.training
    model.eval()
    loss_sum = torch.zeros((), device=x.device, dtype=torch.float64)
    correct = torch.zeros((), device=x.device, dtype=torch.int64)
    for xb, yb in eval_batches(x, y, batch_size):
        out = model(xb)
        loss_sum += F.cross_entropy(out, yb, reduction="sum").double()
        correct += (out.argmax(1) == yb).sum()
    model.train(was_training)
    return {"loss": float(loss_sum) / len(y), "acc": 100.0 * int(correct) / len(y)}


def rng_state() -> dict:
    """Global RNG states as tensors and plain values only, so ``weights_only=True`` can load them back."""
    name, keys, pos, has_gauss, gauss = np.random.get_state()
    state = {
        "torch": torch.get_rng_state(),
        "numpy": {
            "name": name,
            "keys": torch.from_numpy(keys.astype(np.int64)),
            "pos": int(pos),
            "has_gauss": int(has_gauss),
            "gauss": float(gauss),
        },
        "python": list(random.getstate()[1]),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict) -> None:
    torch.set_rng_state(state["torch"])
    n = state["numpy"]
    np.random.set_state((n["name"], n["keys"].numpy().astype(np.uint32), n["pos"], n["has_gauss"], n["gauss"]))
    random.setstate((3, tuple(state["python"]), None))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def _cpu_copy(obj):
    if isinstance(obj, torch.Tensor):
        return obj.detach().to("cpu", copy=True)
    if isinstance(obj, dict):
        return {k: _cpu_copy(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(_cpu_copy(v) for v in obj)
    return copy.deepcopy(obj)


class Trainer:
    """Train ``model`` on ``data`` under ``train`` (the ``train`` block of a run spec)."""

    members = 1

    def __init__(
        self,
        model: nn.Module,
        data: TensorData,
        train: dict,
        *,
        data_seed: int,
        label: str,
        mask: Mask | None = None,
        start_iteration: int = 0,
        end_iteration: int | None = None,
        save_at: list | tuple = (),
        optimizer_state: dict | None = None,
        state_path: str | Path | None = None,
        checkpoint_every: str | int = "1ep",
        checkpoint_seconds: float = 0.0,
        clock: Callable[[], float] = time.monotonic,
        log: Callable[[str], None] = print,
        compile: bool = False,
    ):
        self.model, self.data, self.train, self.label, self.log = model, data, train, label, log
        self.data_seed, self.device = int(data_seed), data.train_x.device
        self.batch_size = int(train["batch_size"])
        self.ipe = iterations_per_epoch(len(data.train_y), self.batch_size)
        self.end = end_iteration if end_iteration is not None else total_iterations(train, self.ipe)
        self.start = int(start_iteration)
        if not 0 <= self.start <= self.end:
            raise ConfigError(f"run {label}: start iteration {self.start} is outside [0, {self.end}]")
        self.save_points, self.keep_best = save_iterations(save_at, self.ipe), BEST in save_at
        self.progress = Progress(label, log, clock=clock)  # a line at least every 10 s inside long epochs
        self.world = distributed.current()  # one process, or this rank of a DDP job (prunelab.training.distributed)
        self.world.check_batches(len(data.train_y), self.batch_size, label)
        self.step_loss = TrainingStep(model, train, compile=compile, wrap=self.world.wrap)
        self.checkpoints = CheckpointPolicy(  # every rank checks when a save is due; rank 0 alone writes
            state_path,
            to_iteration(checkpoint_every, self.ipe, "runtime.checkpoint_every"),
            checkpoint_seconds,
            clock,
            writes=self.world.writer,
        )
        self.state_path = self.checkpoints.path
        self.optimizer = build_optimizer(model, train)
        if optimizer_state is not None:
            self.optimizer.load_state_dict(optimizer_state)
        self.masked = MaskedParameters(model, mask) if mask is not None else None
        if self.masked is not None:
            self.masked.install(self.optimizer)

    # -- the loop body ------------------------------------------------------------------------------
    def batches(self, epoch: int, first: int) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """This rank's slice of each global batch from batch ``first`` of ``epoch`` on (the whole batch in one
        process); keeps the global batch's example count, which a DDP rank weights its loss by."""
        n = len(self.data.train_y)
        batches = self.data.epoch_batches(self.batch_size, self.data_seed, epoch, start=first, shard=self.world.shard)
        for index, batch in enumerate(batches, start=first):
            self._global_examples = min(self.batch_size, n - index * self.batch_size)  # the last may be short
            yield batch

    def step(self, xb: torch.Tensor, yb: torch.Tensor, lr: float) -> torch.Tensor:
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        loss = self.step_loss(xb, yb)
        self.optimizer.zero_grad(set_to_none=True)
        loss = self.world.backward(loss, len(yb), self._global_examples)
        if self.masked is not None:  # zero grads keep pruned weights and their SGD/Adam state at
            self.masked.mask_gradients()  # exactly 0, so no weight pass is needed after the step
        self.optimizer.step()
        return loss.detach()

    def progress_line(self, epoch: int, iteration: int, loss: torch.Tensor) -> str:
        return f"epoch {epoch + 1}/{self.end / self.ipe:g} it {iteration}/{self.end} loss {float(loss):.4f}"

    def snapshots(self) -> list[dict]:
        return [{"model": _cpu_copy(self.model.state_dict()), "optimizer": _cpu_copy(self.optimizer.state_dict())}]

    def assert_invariant(self, where: str, live: list[int]) -> None:
        if self.masked is not None and live:
            self.masked.assert_invariant(where)

    def evaluate_epoch(
        self, epoch: int, iteration: int, losses: list, lr: float, seconds: float, live: list[int]
    ) -> dict[int, dict]:
        if not live:
            return {}
        train_loss = (
            float(torch.stack([loss.float().reshape(()) for loss in losses]).mean()) if losses else float("nan")
        )
        val = evaluate(self.model, self.data.val_x, self.data.val_y)
        test = evaluate(self.model, self.data.test_x, self.data.test_y)
        row = {
            "epoch": epoch,
            "iteration": iteration,
            "lr": lr,
            "train_loss": train_loss,
            "val_loss": val["loss"],
            "val_acc": val["acc"],
            "test_loss": test["loss"],
            "test_acc": test["acc"],
        }
        total_epochs = self.end / self.ipe
        self.log(
            f"[{self.label}] epoch {epoch}/{total_epochs:g} it {iteration}/{self.end} lr {lr:.4g} "
            f"train_loss {train_loss:.4f} val_acc {val['acc']:.2f} test_acc {test['acc']:.2f} "
            f"({seconds:.1f}s)"
        )
        return {0: row}

    def divergences(
        self, losses: list, first_iteration: int, epoch: int, live: list[int]
    ) -> dict[int, DivergenceError]:
        """The first non-finite loss (or weight), with the run, epoch and iteration in the message."""
        bad_value, step = None, None
        if not live:
            return {}
        if losses:
            stacked = torch.stack([loss.reshape(()) for loss in losses])
            finite = torch.isfinite(stacked)
            if not bool(finite.all()):
                step = first_iteration + int((~finite).nonzero()[0])
                bad_value = f"loss is {float(stacked[~finite][0])}"
        if bad_value is None:
            norms = torch.stack(torch._foreach_norm([p.detach() for p in self.model.parameters()]))
            if not bool(torch.isfinite(norms).all()):
                step = first_iteration + len(losses)
                bad_value = "weights are not finite"
        if bad_value is None:
            return {}
        kept = (
            f"; last good checkpoint kept at {self.state_path}" if self.state_path and self.state_path.exists() else ""
        )
        return {
            0: DivergenceError(
                f"run {self.label}: {bad_value} at epoch {epoch}, iteration {step}{kept}", epoch=epoch, iteration=step
            )
        }

    def diverged(self, k: int, error: DivergenceError) -> None:
        """Nothing to keep: a single run's last good weights are its resume checkpoint."""

    # -- resume state -------------------------------------------------------------------------------
    def state(self) -> dict:
        return {
            "label": self.label,
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "rng": rng_state(),
        }

    def load_state(self, state: dict, path: Path) -> None:
        if state.get("label") != self.label:
            raise ConfigError(
                f"{path}: resume checkpoint belongs to run {state.get('label')!r}, not {self.label!r}; delete it"
            )
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        set_rng_state(state["rng"])

    def run(self) -> TrainOutcome:
        self.model.train()
        loop = TrainingLoop(
            self,
            start=self.start,
            end=self.end,
            ipe=self.ipe,
            save_points=self.save_points,
            keep_best=self.keep_best,
            train=self.train,
            checkpoints=self.checkpoints,
            divergence=DivergencePolicy("fail"),
            has_validation=len(self.data.val_y) > 0,
            log_label=self.label,
            log=self.log,
        )
        return loop.run()[0]
