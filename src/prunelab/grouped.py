"""Train K models of one architecture in lockstep, in one process, as one batched computation.

Small models leave a GPU mostly idle: at batch 128 a LeNet or ResNet-20 step is a few dozen kernel launches
of a few microseconds each. Seed replicates are the common case of "many small jobs", and they share
everything but their numbers, so their parameters can be stacked along a new leading dimension and every
step run once for all K models: ``torch.func.stack_module_state`` stacks parameters and buffers,
``torch.func.vmap`` over ``functional_call`` turns each layer into one batched kernel (a conv becomes a
grouped conv, a linear a batched matmul), and the SGD update runs as a handful of ``torch._foreach`` calls
on the stacked tensors. Each model keeps what makes it itself:

* its data order and augmentation — its own :class:`~prunelab.data.batches.EpochPlan` from its data seed,
  gathered for all K models in one indexing operation (:func:`stacked_batches`);
* its BatchNorm running statistics — buffers are stacked too and updated in place under ``vmap`` in train mode;
* its optimizer state — :class:`StackedSGD` reproduces ``torch.optim.SGD`` (momentum, Nesterov, weight decay)
  element for element, and hands out per-model ``torch.optim.SGD`` state dicts for snapshots;
* its mask — gradients are multiplied by the stacked mask before every step, as the single-run loop does,
  so pruned weights and their momentum stay exactly zero: SGD's update of an entry whose weight, gradient
  and momentum are 0 is exactly 0, so no second pass over the weights is needed.

The learning-rate schedule is shared (:func:`prunelab.schedules.learning_rate`): grouping requires the same
training settings. Per-epoch evaluation, snapshots and the returned :class:`~prunelab.train.TrainOutcome` per
model are those of :class:`~prunelab.train.Trainer`, computed on the K ordinary modules, into which the
stacked weights are copied back at every epoch end and snapshot point.
"""

from __future__ import annotations

import copy
import time
from pathlib import Path
from typing import Callable, Iterator

import torch
import torch.nn.functional as F
from torch import nn
from torch.func import functional_call, stack_module_state, vmap

from prunelab.acceleration import autocast_dtype
from prunelab.data import TensorData
from prunelab.data.batches import EpochPlan, random_crop
from prunelab.errors import CheckpointError, ConfigError, DivergenceError
from prunelab.masks import Mask
from prunelab.progress import Progress
from prunelab.schedules import iterations_per_epoch, learning_rate, to_iteration, total_iterations
from prunelab.storage import load_tensors, save_tensors
from prunelab.train import TrainOutcome, _cpu_copy, build_optimizer, evaluate


def unsupported(train: dict) -> str | None:
    """Why ``train`` cannot be trained grouped (None if it can); such groups are trained one by one."""
    if train.get("optimizer", "sgd") != "sgd":
        return f"optimizer {train.get('optimizer')!r} (grouped training implements SGD only)"
    if train.get("channels_last", False):
        return "channels_last (vmap folds the model dimension into the channels, so NHWC does not apply)"
    return None


def slower_than_sequential(model: nn.Module, device: torch.device) -> str | None:
    """Why vmapping copies of ``model`` on ``device`` would lose to training them one by one (None if not).

    On a CPU, vmap turns every convolution into a grouped convolution, which oneDNN runs several times
    slower than the K ordinary ones (ResNet-20 ×8 at 0.4×, LeNet-5 ×8 at 0.6× of sequential speed on 2 cores;
    see benchmarks/README.md); there are no kernel launches to save on a CPU. Linear layers become batched
    matrix products, which cost about what K products do.
    """
    if device.type == "cpu" and any(isinstance(m, nn.Conv2d) for m in model.modules()):
        return "convolutions on a CPU (vmap makes them grouped convolutions, several times slower there)"
    return None


class StackedSGD:
    """``torch.optim.SGD`` (dampening 0, no maximize) on stacked parameters, one momentum buffer per tensor.

    Same element-wise operations in the same order as SGD's single-tensor and foreach paths: d = g + wd·θ;
    b = d on the first step, else b = μ·b + d; d = d + μ·b (Nesterov) or d = b; θ = θ − lr·d. A stacked tensor
    holds K models' entries, and each entry sees exactly the arithmetic it would see in its own optimizer.
    """

    def __init__(self, momentum: float, nesterov: bool, weight_decay: float):
        self.momentum, self.nesterov, self.weight_decay = float(momentum), bool(nesterov), float(weight_decay)
        self.buffers: list[torch.Tensor] | None = None

    @torch.no_grad()
    def step(self, params: list[torch.Tensor], grads: list[torch.Tensor], lr: float) -> None:
        if self.weight_decay != 0:
            grads = torch._foreach_add(grads, params, alpha=self.weight_decay)
        if self.momentum != 0:
            if self.buffers is None:
                self.buffers = [g.detach().clone() for g in grads]
            else:
                torch._foreach_mul_(self.buffers, self.momentum)
                torch._foreach_add_(self.buffers, grads)
            grads = torch._foreach_add(grads, self.buffers, alpha=self.momentum) if self.nesterov else self.buffers
        torch._foreach_add_(params, grads, alpha=-lr)


def stacked_batches(plans: list[EpochPlan], x: torch.Tensor, y: torch.Tensor, start: int = 0
                    ) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """Batches ``(K, B, ...)``/``(K, B)``: slice k is exactly what ``plans[k].batches(x, y)`` yields.

    All K index sets are gathered, cropped and flipped in one call each, instead of K calls per batch.
    """
    first = plans[0]
    if any((len(p), p.batch_size, p.pad, p.offsets is None, p.flips is None) !=
           (len(first), first.batch_size, first.pad, first.offsets is None, first.flips is None) for p in plans):
        raise ValueError("stacked_batches needs plans of one length, batch size and augmentation")
    device, k = x.device, len(plans)
    order = torch.stack([p.order for p in plans]).to(device)
    offsets = torch.stack([p.offsets for p in plans]).to(device) if first.offsets is not None else None
    flips = torch.stack([p.flips for p in plans]).to(device) if first.flips is not None else None
    for b in range(start, len(first)):
        sl = slice(b * first.batch_size, (b + 1) * first.batch_size)
        idx = order[:, sl].reshape(-1)
        xb = x.index_select(0, idx)
        if offsets is not None:
            xb = random_crop(xb, offsets[:, sl].reshape(-1, 2), first.pad)
        if flips is not None:
            xb = torch.where(flips[:, sl].reshape(-1, 1, 1, 1), xb.flip(-1), xb)
        yield xb.view(k, -1, *xb.shape[1:]), y.index_select(0, idx).view(k, -1)


class GroupedTrainer:
    """Train ``models`` (same architecture, each with its own data seed and optional mask) under one ``train``.

    ``run()`` returns one :class:`~prunelab.train.TrainOutcome` per model, and leaves the trained weights in
    the given modules, as K :class:`~prunelab.train.Trainer` runs would.
    """

    def __init__(self, models: list[nn.Module], data: TensorData, train: dict, *, data_seeds: list[int],
                 labels: list[str], masks: list[Mask | None] | None = None, save_at: list | tuple = (),
                 state_path: str | Path | None = None, checkpoint_every: str | int = "1ep",
                 log: Callable[[str], None] = print):
        if not models or len(data_seeds) != len(models) or len(labels) != len(models):
            raise ValueError("GroupedTrainer needs one data seed and one label per model")
        reason = unsupported(train)
        if reason:
            raise ConfigError(f"group {labels}: cannot train grouped: {reason}")
        self.models, self.data, self.train, self.labels, self.log = models, data, train, list(labels), log
        self.data_seeds = [int(s) for s in data_seeds]
        self.batch_size = int(train["batch_size"])
        self.ipe = iterations_per_epoch(len(data.train_y), self.batch_size)
        self.end = total_iterations(train, self.ipe)
        self.save_points = sorted({to_iteration(p, self.ipe) for p in save_at})
        self.checkpoint_every = max(1, to_iteration(checkpoint_every, self.ipe, "runtime.checkpoint_every"))
        self.state_path = Path(state_path) if state_path else None
        self.select_on = "val_acc" if len(data.val_y) else "test_acc"
        self.autocast = autocast_dtype(train)
        self.device_type = data.train_x.device.type

        self.params, self.buffers = stack_module_state(models)
        self.names = list(self.params)
        self.base = copy.deepcopy(models[0]).to("meta").train()
        self.sgd = StackedSGD(train.get("momentum", 0.0), train.get("nesterov", False), train.get("weight_decay", 0.0))
        # per-model torch.optim.SGD objects only lend their state_dict format to snapshots and outcomes
        self.optimizers = [build_optimizer(m, train) for m in models]
        self.lr = float(train["lr"])  # what the single-run loop's optimizer holds before its first step
        self.masked_names, self.factors = self._stack_masks(masks)
        self._losses = vmap(self._loss)

    # -- pieces ---------------------------------------------------------------------------------------
    def _stack_masks(self, masks: list[Mask | None] | None) -> tuple[list[str], list[torch.Tensor]]:
        if masks is None or all(m is None for m in masks):
            return [], []
        names = [n for n in self.names if any(m is not None and n in m for m in masks)]
        factors = []
        for name in names:
            p = self.params[name]
            factors.append(torch.stack([m[name].to(p.device, p.dtype) if m is not None and name in m
                                        else torch.ones_like(p[0]) for m in masks]))
            if tuple(factors[-1].shape) != tuple(p.shape):
                raise CheckpointError(f"group {self.labels}: mask for {name} has shape "
                                      f"{tuple(factors[-1].shape[1:])}, model has {tuple(p.shape[1:])}")
        with torch.no_grad():
            torch._foreach_mul_([self.params[n] for n in names], factors)
        return names, factors

    def _loss(self, params: dict, buffers: dict, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return F.cross_entropy(functional_call(self.base, (params, buffers), (x,)), y)

    def _step(self, xb: torch.Tensor, yb: torch.Tensor, lr: float) -> torch.Tensor:
        for p in self.params.values():
            p.grad = None
        with torch.autocast(self.device_type, dtype=self.autocast, enabled=self.autocast is not None):
            losses = self._losses(self.params, self.buffers, xb, yb)
        losses.sum().backward()  # the K losses are independent, so each model gets the gradient of its own
        params = [self.params[n] for n in self.names]
        masked = [self.params[n] for n in self.masked_names]
        if masked:
            torch._foreach_mul_([p.grad for p in masked], self.factors)
        self.sgd.step(params, [p.grad for p in params], lr)  # zero grad, weight and momentum stay zero
        self.lr = lr
        return losses.detach()

    @torch.no_grad()
    def _write_back(self) -> None:
        """Copy the stacked weights and buffers into the K modules (for evaluation, snapshots, the caller)."""
        for k, model in enumerate(self.models):
            for name, p in model.named_parameters():
                p.copy_(self.params[name][k])
            for name, b in model.named_buffers():
                b.copy_(self.buffers[name][k])

    def _optimizer_state(self, k: int) -> dict:
        """Model k's optimizer state in ``torch.optim.SGD.state_dict()`` form."""
        optimizer = self.optimizers[k]
        for group in optimizer.param_groups:
            group["lr"] = self.lr
        if self.sgd.buffers is not None:
            for p, buf in zip(self.models[k].parameters(), self.sgd.buffers):
                optimizer.state[p]["momentum_buffer"] = buf[k]
        return _cpu_copy(optimizer.state_dict())

    def _snapshots(self) -> list[dict]:
        self._write_back()
        return [{"model": _cpu_copy(m.state_dict()), "optimizer": self._optimizer_state(k)}
                for k, m in enumerate(self.models)]

    def _check_finite(self, losses: list[torch.Tensor], first_iteration: int, epoch: int) -> None:
        if not losses:
            return
        stacked = torch.stack(losses)  # (steps, K)
        finite = torch.isfinite(stacked)
        if bool(finite.all()):
            return
        bad = [k for k in range(len(self.models)) if not bool(finite[:, k].all())]
        steps = [first_iteration + int((~finite[:, k]).nonzero()[0]) for k in bad]
        where = ", ".join(f"run {self.labels[k]} at iteration {s}" for k, s in zip(bad, steps))
        raise DivergenceError(f"group of {len(self.models)}: loss is not finite in epoch {epoch}: {where}")

    def assert_invariant(self, where: str) -> None:
        """Every pruned weight of every model is exactly 0.0."""
        for name, factor in zip(self.masked_names, self.factors):
            if bool((self.params[name].detach()[factor == 0] != 0).any()):
                raise RuntimeError(f"mask invariant broken at {where}: {name} has non-zero pruned weights")

    def _evaluate_epoch(self, epoch: int, iteration: int, losses: list[torch.Tensor], lr: float, seconds: float
                        ) -> list[dict]:
        self._write_back()
        train_losses = torch.stack(losses).float().mean(0).tolist() if losses else [float("nan")] * len(self.models)
        rows = []
        for k, model in enumerate(self.models):
            val = evaluate(model, self.data.val_x, self.data.val_y)
            test = evaluate(model, self.data.test_x, self.data.test_y)
            rows.append({"epoch": epoch, "iteration": iteration, "lr": lr, "train_loss": train_losses[k],
                         "val_loss": val["loss"], "val_acc": val["acc"], "test_loss": test["loss"],
                         "test_acc": test["acc"]})
            self.log(f"[{self.labels[k]}] epoch {epoch}/{self.end / self.ipe:g} it {iteration}/{self.end} "
                     f"lr {lr:.4g} train_loss {train_losses[k]:.4f} val_acc {val['acc']:.2f} "
                     f"test_acc {test['acc']:.2f} ({seconds:.1f}s for {len(self.models)} models)")
        return rows

    # -- resume ---------------------------------------------------------------------------------------
    def _save_state(self, iteration: int, epoch_losses: list, histories: list, bests: list, snapshots: list) -> None:
        if self.state_path is None:
            return
        self.assert_invariant(f"checkpoint at iteration {iteration}")
        save_tensors(self.state_path, {
            "labels": self.labels, "iteration": iteration, "lr": self.lr,
            "params": {n: p.detach() for n, p in self.params.items()}, "buffers": self.buffers,
            "momentum": self.sgd.buffers, "epoch_losses": [l.cpu() for l in epoch_losses],
            "histories": histories, "bests": bests, "snapshots": snapshots})

    def _load_state(self) -> dict | None:
        if self.state_path is None or not self.state_path.exists():
            return None
        state = load_tensors(self.state_path, producer="this group (resume checkpoint)")
        if state.get("labels") != self.labels:
            raise ConfigError(f"{self.state_path}: resume checkpoint belongs to runs {state.get('labels')}, "
                              f"not {self.labels}; delete it")
        with torch.no_grad():
            for n, p in self.params.items():
                p.copy_(state["params"][n])
            for n, b in self.buffers.items():
                b.copy_(state["buffers"][n])
        device = self.data.train_x.device
        self.sgd.buffers = [b.to(device) for b in state["momentum"]] if state["momentum"] is not None else None
        self.lr = state["lr"]  # no global RNG state: every random draw of the loop comes from an EpochPlan
        return state

    # -- loop -----------------------------------------------------------------------------------------
    def run(self) -> list[TrainOutcome]:
        k_models, data = len(self.models), self.data
        histories: list[list[dict]] = [[] for _ in range(k_models)]
        bests: list[dict] = [{} for _ in range(k_models)]
        snapshots: list[dict[int, dict]] = [{} for _ in range(k_models)]
        epoch_losses: list[torch.Tensor] = []
        it = 0
        state = self._load_state()
        if state is not None:
            it, histories, bests, snapshots = state["iteration"], state["histories"], state["bests"], state["snapshots"]
            epoch_losses = [l.to(data.train_x.device) for l in state["epoch_losses"]]
            self.log(f"[group {', '.join(self.labels)}] resumed from {self.state_path} at iteration {it}")
        elif it in self.save_points:
            for snaps, snap in zip(snapshots, self._snapshots()):
                snaps[it] = snap
        started = time.perf_counter()
        progress = Progress(f"group {', '.join(self.labels)}", self.log)  # a line at least every 10 s
        while it < self.end:
            epoch, first = divmod(it, self.ipe)
            plans = [EpochPlan.make(len(data.train_y), self.batch_size, seed, epoch, data.augment)
                     for seed in self.data_seeds]
            epoch_first_it = it - len(epoch_losses)
            for xb, yb in stacked_batches(plans, data.train_x, data.train_y, start=first):
                epoch_losses.append(self._step(xb, yb, learning_rate(self.train, it, self.ipe)))
                it += 1
                progress.tick(lambda: f"epoch {epoch + 1}/{self.end / self.ipe:g} it {it}/{self.end}")
                if it in self.save_points:
                    for snaps, snap in zip(snapshots, self._snapshots()):
                        snaps[it] = snap
                if it >= self.end or it % self.checkpoint_every == 0:
                    break
            if it % self.ipe == 0 or it >= self.end:
                self._check_finite(epoch_losses, epoch_first_it, epoch + 1)
                self.assert_invariant(f"end of epoch {epoch + 1}")
                rows = self._evaluate_epoch(-(-it // self.ipe), it, epoch_losses, self.lr,
                                            time.perf_counter() - started)
                for history, best, row in zip(histories, bests, rows):
                    history.append(row)
                    if not best or row[self.select_on] > best[self.select_on]:
                        best.clear()
                        best.update(row)
                epoch_losses = []
                started = time.perf_counter()
                progress.logged()
            if it < self.end and it % self.checkpoint_every == 0:
                self._check_finite(epoch_losses, epoch_first_it, epoch + 1)
                self._save_state(it, epoch_losses, histories, bests, snapshots)
        if not histories[0]:  # zero-length training: still report every model
            for history, best, row in zip(histories, bests, self._evaluate_epoch(0, it, [], float("nan"), 0.0)):
                history.append(row)
                best.update(row)
        self._write_back()
        return [TrainOutcome(history=h, final=dict(h[-1]), best=dict(b), snapshots=s, iterations=it,
                             epochs=it / self.ipe) for h, b, s in zip(histories, bests, snapshots)]
