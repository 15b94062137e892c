"""The training loop: device-resident batches, masked steps, named snapshots, exact resume, divergence stop.

One loop serves dense training and every branch. It runs from ``start_iteration`` to ``end_iteration`` of
a schedule that is a pure function of the absolute iteration, over a data stream that is a pure function
of ``(data_seed, epoch)``; the mutable state is therefore only the model, the optimizer, the partial
epoch's losses and the snapshots taken so far. That state is checkpointed atomically to a non-output file
(``train_state.pt``) every ``checkpoint_every`` and, on a cluster where a job can be preempted or hit its
time limit, also whenever ``checkpoint_seconds`` of wall time have passed since the last save; a rerun
after a kill resumes from it and finishes with weights bit-identical to an uninterrupted run on CPU
(where a checkpoint falls does not change the result: the loop state is a function of the iteration).
"""

from __future__ import annotations

import copy
import random
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from prunelab import distributed
from prunelab.acceleration import TrainingStep
from prunelab.data import TensorData
from prunelab.data.batches import eval_batches
from prunelab.errors import ConfigError, DivergenceError
from prunelab.masks import Mask, MaskedParameters
from prunelab.progress import Progress
from prunelab.schedules import iterations_per_epoch, learning_rate, to_iteration, total_iterations
from prunelab.storage import load_tensors, save_tensors

EVAL_BATCH = 1000


def build_optimizer(model: nn.Module, train: dict) -> torch.optim.Optimizer:
    name = train.get("optimizer", "sgd")
    lr, wd = float(train["lr"]), float(train.get("weight_decay", 0.0))
    if name == "sgd":
        return torch.optim.SGD(model.parameters(), lr=lr, momentum=float(train.get("momentum", 0.0)),
                               nesterov=bool(train.get("nesterov", False)), weight_decay=wd)
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
    state = {"torch": torch.get_rng_state(),
             "numpy": {"name": name, "keys": torch.from_numpy(keys.astype(np.int64)), "pos": int(pos),
                       "has_gauss": int(has_gauss), "gauss": float(gauss)},
             "python": list(random.getstate()[1])}
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


@dataclass
class TrainOutcome:
    """What a finished loop hands back: per-epoch history, final and best-validation metrics, snapshots."""

    history: list[dict]
    final: dict
    best: dict
    snapshots: dict[int, dict] = field(default_factory=dict)
    iterations: int = 0
    epochs: float = 0.0


class Trainer:
    """Train ``model`` on ``data`` under ``train`` (the ``train`` block of a run spec)."""

    def __init__(self, model: nn.Module, data: TensorData, train: dict, *, data_seed: int, label: str,
                 mask: Mask | None = None, start_iteration: int = 0, end_iteration: int | None = None,
                 save_at: list | tuple = (), optimizer_state: dict | None = None,
                 state_path: str | Path | None = None, checkpoint_every: str | int = "1ep",
                 checkpoint_seconds: float = 0.0, clock: Callable[[], float] = time.monotonic,
                 log: Callable[[str], None] = print, compile: bool = False):
        self.model, self.data, self.train, self.label, self.log = model, data, train, label, log
        self.data_seed = int(data_seed)
        self.batch_size = int(train["batch_size"])
        self.ipe = iterations_per_epoch(len(data.train_y), self.batch_size)
        self.end = end_iteration if end_iteration is not None else total_iterations(train, self.ipe)
        self.start = int(start_iteration)
        if not 0 <= self.start <= self.end:
            raise ConfigError(f"run {label}: start iteration {self.start} is outside [0, {self.end}]")
        self.save_points = sorted({to_iteration(p, self.ipe) for p in save_at})
        self.checkpoint_every = max(1, to_iteration(checkpoint_every, self.ipe, "runtime.checkpoint_every"))
        self.state_path = Path(state_path) if state_path else None
        self.checkpoint_seconds, self.clock = float(checkpoint_seconds), clock
        self.progress = Progress(label, log, clock=clock)  # a line at least every 10 s inside long epochs
        self.select_on = "val_acc" if len(data.val_y) else "test_acc"  # the "best epoch" criterion
        self.world = distributed.current()  # one process, or this rank of a DDP job (prunelab.distributed)
        self.world.check_batches(len(data.train_y), self.batch_size, label)
        self.step_loss = TrainingStep(model, train, compile=compile, wrap=self.world.wrap)
        self.optimizer = build_optimizer(model, train)
        if optimizer_state is not None:
            self.optimizer.load_state_dict(optimizer_state)
        self.masked = MaskedParameters(model, mask) if mask is not None else None
        if self.masked is not None:
            self.masked.install(self.optimizer)

    # -- state --------------------------------------------------------------------------------------
    def _snapshot(self) -> dict:
        return {"model": _cpu_copy(self.model.state_dict()), "optimizer": _cpu_copy(self.optimizer.state_dict())}

    def _save_state(self, iteration: int, epoch_losses: list, history: list, best: dict, snapshots: dict) -> None:
        if self.masked is not None:
            self.masked.assert_invariant(f"checkpoint at iteration {iteration}")
        if self.state_path is None or not self.world.writer:
            return
        save_tensors(self.state_path, {
            "label": self.label, "iteration": iteration, "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(), "epoch_losses": list(epoch_losses),
            "history": history, "best": best, "snapshots": snapshots, "rng": rng_state()})

    def _load_state(self) -> dict | None:
        if self.state_path is None or not self.state_path.exists():
            return None
        state = load_tensors(self.state_path, producer="this run (resume checkpoint)")
        if state.get("label") != self.label:
            raise ConfigError(f"{self.state_path}: resume checkpoint belongs to run {state.get('label')!r}, "
                              f"not {self.label!r}; delete it")
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        set_rng_state(state["rng"])
        return state

    def _save_due(self, last_save: float) -> bool:
        """True when time-based checkpointing is on and ``checkpoint_seconds`` passed since ``last_save``."""
        return (self.state_path is not None and self.checkpoint_seconds > 0
                and self.clock() - last_save >= self.checkpoint_seconds)

    # -- loop ---------------------------------------------------------------------------------------
    def _batch_examples(self, iteration: int) -> int:
        """Examples in the global batch of ``iteration`` (the epoch's last batch may be short)."""
        return min(self.batch_size, len(self.data.train_y) - (iteration % self.ipe) * self.batch_size)

    def _evaluate_epoch(self, epoch: int, iteration: int, losses: list, lr: float, seconds: float) -> dict:
        train_loss = float(torch.stack([l.detach().float().reshape(()) for l in losses]).mean()) if losses \
            else float("nan")
        val = evaluate(self.model, self.data.val_x, self.data.val_y)
        test = evaluate(self.model, self.data.test_x, self.data.test_y)
        row = {"epoch": epoch, "iteration": iteration, "lr": lr, "train_loss": train_loss,
               "val_loss": val["loss"], "val_acc": val["acc"], "test_loss": test["loss"], "test_acc": test["acc"]}
        total_epochs = self.end / self.ipe
        self.log(f"[{self.label}] epoch {epoch}/{total_epochs:g} it {iteration}/{self.end} lr {lr:.4g} "
                 f"train_loss {train_loss:.4f} val_acc {val['acc']:.2f} test_acc {test['acc']:.2f} "
                 f"({seconds:.1f}s)")
        return row

    def _check_finite(self, losses: list, first_iteration: int, epoch: int) -> None:
        """Stop at the first non-finite loss (or weight) with the run, epoch and iteration in the message."""
        bad_value, step = None, None
        if losses:
            stacked = torch.stack([l.detach().reshape(()) for l in losses])
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
            return
        kept = f"; last good checkpoint kept at {self.state_path}" if self.state_path and self.state_path.exists() \
            else ""
        raise DivergenceError(f"run {self.label}: {bad_value} at epoch {epoch}, iteration {step}{kept}",
                              epoch=epoch, iteration=step)

    def run(self) -> TrainOutcome:
        model, data = self.model, self.data
        history: list[dict] = []
        best: dict = {}
        snapshots: dict[int, dict] = {}
        epoch_losses: list = []
        it = self.start
        state = self._load_state()
        if state is not None:
            it, history, best, snapshots = state["iteration"], state["history"], state["best"], state["snapshots"]
            epoch_losses = list(state["epoch_losses"])
            self.log(f"[{self.label}] resumed from {self.state_path} at iteration {it}")
        elif it in self.save_points:
            snapshots[it] = self._snapshot()
        lr = learning_rate(self.train, it, self.ipe) if it < self.end else float("nan")
        model.train()
        started = time.perf_counter()
        last_save = self.clock()
        while it < self.end:
            save_due = False
            epoch, first = divmod(it, self.ipe)
            epoch_first_it = it - len(epoch_losses)
            for xb, yb in data.epoch_batches(self.batch_size, self.data_seed, epoch, start=first,
                                             shard=self.world.shard):
                lr = learning_rate(self.train, it, self.ipe)
                for group in self.optimizer.param_groups:
                    group["lr"] = lr
                loss = self.step_loss(xb, yb)
                self.optimizer.zero_grad(set_to_none=True)
                loss = self.world.backward(loss, len(yb), self._batch_examples(it))
                if self.masked is not None:  # zero grads keep pruned weights and their SGD/Adam state at
                    self.masked.mask_gradients()  # exactly 0, so no weight pass is needed after the step
                self.optimizer.step()
                epoch_losses.append(loss.detach())
                it += 1
                self.progress.tick(lambda: f"epoch {epoch + 1}/{self.end / self.ipe:g} it {it}/{self.end} "
                                           f"loss {float(loss.detach()):.4f}")
                if it in self.save_points:
                    snapshots[it] = self._snapshot()
                save_due = self._save_due(last_save)
                if it >= self.end or it % self.checkpoint_every == 0 or save_due:
                    break
            at_epoch_end = it % self.ipe == 0 or it >= self.end
            if at_epoch_end:
                self._check_finite(epoch_losses, epoch_first_it, epoch + 1)
                if self.masked is not None:
                    self.masked.assert_invariant(f"end of epoch {epoch + 1}")
                row = self._evaluate_epoch(-(-it // self.ipe), it, epoch_losses, lr,
                                           time.perf_counter() - started)
                history.append(row)
                self.progress.logged()
                if not best or row[self.select_on] > best[self.select_on]:
                    best = dict(row)
                epoch_losses = []
                started = time.perf_counter()
            if it < self.end and (it % self.checkpoint_every == 0 or save_due):
                self._check_finite(epoch_losses, epoch_first_it, epoch + 1)
                self._save_state(it, [l.cpu() for l in epoch_losses], history, best, snapshots)
                last_save = self.clock()
        if not history:  # zero-length run (e.g. prune at init with no training): still report the model
            history.append(self._evaluate_epoch(0, it, [], lr, 0.0))
            best = dict(history[-1])
        return TrainOutcome(history=history, final=dict(history[-1]), best=best, snapshots=snapshots,
                            iterations=it, epochs=it / self.ipe)
