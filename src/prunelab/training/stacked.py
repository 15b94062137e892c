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
* its mask — :meth:`~prunelab.training.masks.MaskedParameters.stacked` multiplies the stacked gradients before every
  step, as the single-run loop does, so pruned weights and their momentum stay exactly zero: SGD's update of
  an entry whose weight, gradient and momentum are 0 is exactly 0, so no second pass over the weights is needed;
* its divergence — under ``on_divergence: record`` a member whose loss or weights stop being finite is
  recorded (with its last good weights) and the others train on; its numbers no longer affect theirs, since
  the K losses and their gradients are independent.

The loop itself — iterations, epochs, snapshots, checkpoints by iteration and by wall time, exact resume,
divergence — is the single run's (:class:`~prunelab.training.loop.TrainingLoop`); this module only says what one
step, one evaluation and one resume state of K stacked models are. The learning-rate schedule is shared:
grouping requires the same training settings. Per-epoch evaluation and snapshots are computed on the K
ordinary modules, into which the stacked weights are copied back at every epoch end and snapshot point.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn
from torch.func import functional_call, stack_module_state, vmap

from prunelab.data.batches import EpochPlan, random_crop
from prunelab.data.tensors import TensorData
from prunelab.errors import ConfigError, DivergenceError
from prunelab.progress import Progress
from prunelab.records.storage import load_tensors
from prunelab.training.acceleration import autocast_dtype
from prunelab.training.loop import CheckpointPolicy, DivergencePolicy, TrainingLoop, TrainOutcome
from prunelab.training.masks import Mask, MaskedParameters
from prunelab.training.schedules import BEST, iterations_per_epoch, save_iterations, to_iteration, total_iterations
from prunelab.training.single_model import _cpu_copy, build_optimizer, evaluate


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


def stacked_batches(
    plans: list[EpochPlan], x: torch.Tensor, y: torch.Tensor, start: int = 0
) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """Batches ``(K, B, ...)``/``(K, B)``: slice k is exactly what ``plans[k].batches(x, y)`` yields.

    All K index sets are gathered, cropped and flipped in one call each, instead of K calls per batch.
    """
    first = plans[0]
    if any(
        (len(p), p.batch_size, p.pad, p.offsets is None, p.flips is None)
        != (len(first), first.batch_size, first.pad, first.offsets is None, first.flips is None)
        for p in plans
    ):
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

    ``run()`` returns one :class:`~prunelab.training.loop.TrainOutcome` per model — or, under
    ``on_divergence="record"``, the :class:`~prunelab.errors.DivergenceError` of a member that diverged, whose
    last good weights are then in :attr:`last_good` — and leaves the trained weights in the given modules, as
    K :class:`~prunelab.training.single_model.Trainer` runs would.
    """

    def __init__(
        self,
        models: list[nn.Module],
        data: TensorData,
        train: dict,
        *,
        data_seeds: list[int],
        labels: list[str],
        masks: list[Mask | None] | None = None,
        save_at: list | tuple = (),
        state_path: str | Path | None = None,
        checkpoint_every: str | int = "1ep",
        checkpoint_seconds: float = 0.0,
        clock: Callable[[], float] = time.monotonic,
        on_divergence: str = "fail",
        log: Callable[[str], None] = print,
    ):
        if not models or len(data_seeds) != len(models) or len(labels) != len(models):
            raise ValueError("GroupedTrainer needs one data seed and one label per model")
        reason = unsupported(train)
        if reason:
            raise ConfigError(f"group {labels}: cannot train grouped: {reason}")
        self.models, self.data, self.train, self.labels, self.log = models, data, train, list(labels), log
        self.members, self.device = len(models), data.train_x.device
        self.data_seeds = [int(s) for s in data_seeds]
        self.batch_size = int(train["batch_size"])
        self.ipe = iterations_per_epoch(len(data.train_y), self.batch_size)
        self.end = total_iterations(train, self.ipe)
        self.save_points, self.keep_best = save_iterations(save_at, self.ipe), BEST in save_at
        self.checkpoints = CheckpointPolicy(
            state_path, to_iteration(checkpoint_every, self.ipe, "runtime.checkpoint_every"), checkpoint_seconds, clock
        )
        self.divergence = DivergencePolicy(on_divergence)
        self.progress = Progress(f"group {', '.join(self.labels)}", log, clock=clock)  # a line at least every 10 s
        self.autocast = autocast_dtype(train)

        self.params, self.buffers = stack_module_state(models)
        self.names = list(self.params)
        self.base = copy.deepcopy(models[0]).to("meta").train()
        self.sgd = StackedSGD(train.get("momentum", 0.0), train.get("nesterov", False), train.get("weight_decay", 0.0))
        # per-model torch.optim.SGD objects only lend their state_dict format to snapshots and outcomes
        self.optimizers = [build_optimizer(m, train) for m in models]
        self.lr = float(train["lr"])  # what the single-run loop's optimizer holds before its first step
        self.masked = MaskedParameters.stacked(self.params, masks or [None] * len(models), f"group {self.labels}")
        self.masked.install()
        self.initial = [self._member_state(k, self.params, self.buffers) for k in range(self.members)]
        self.last_good: dict[int, dict] = {}  # member -> state dict, for members recorded as diverged
        self._losses = vmap(self._loss)

    # -- pieces ---------------------------------------------------------------------------------------
    def _loss(self, params: dict, buffers: dict, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return F.cross_entropy(functional_call(self.base, (params, buffers), (x,)), y)

    @torch.no_grad()
    def _write_back(self) -> None:
        """Copy the stacked weights and buffers into the K modules (for evaluation, snapshots, the caller)."""
        for k, model in enumerate(self.models):
            for name, p in model.named_parameters():
                p.copy_(self.params[name][k])
            for name, b in model.named_buffers():
                b.copy_(self.buffers[name][k])

    def _member_state(self, k: int, params: dict, buffers: dict) -> dict:
        """Model k's ``state_dict`` (parameters and buffers in the module's order) from stacked tensors."""
        return {
            name: (params[name] if name in params else buffers[name])[k].detach().cpu().clone()
            for name in self.models[k].state_dict()
        }

    def _optimizer_state(self, k: int) -> dict:
        """Model k's optimizer state in ``torch.optim.SGD.state_dict()`` form."""
        optimizer = self.optimizers[k]
        for group in optimizer.param_groups:
            group["lr"] = self.lr
        if self.sgd.buffers is not None:
            for p, buf in zip(self.models[k].parameters(), self.sgd.buffers):
                optimizer.state[p]["momentum_buffer"] = buf[k]
        return _cpu_copy(optimizer.state_dict())

    # -- the loop body --------------------------------------------------------------------------------
    def batches(self, epoch: int, first: int) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        data = self.data
        plans = [
            EpochPlan.make(len(data.train_y), self.batch_size, seed, epoch, data.augment) for seed in self.data_seeds
        ]
        return stacked_batches(plans, data.train_x, data.train_y, start=first)

    def step(self, xb: torch.Tensor, yb: torch.Tensor, lr: float) -> torch.Tensor:
        for p in self.params.values():
            p.grad = None
        with torch.autocast(self.device.type, dtype=self.autocast, enabled=self.autocast is not None):
            losses = self._losses(self.params, self.buffers, xb, yb)
        losses.sum().backward()  # the K losses are independent, so each model gets the gradient of its own
        params = [self.params[n] for n in self.names]
        self.masked.mask_gradients()
        self.sgd.step(params, [p.grad for p in params], lr)  # zero grad, weight and momentum stay zero
        self.lr = lr
        return losses.detach()

    def progress_line(self, epoch: int, iteration: int, loss: torch.Tensor) -> str:
        return f"epoch {epoch + 1}/{self.end / self.ipe:g} it {iteration}/{self.end}"

    def snapshots(self) -> list[dict]:
        self._write_back()
        return [
            {"model": _cpu_copy(m.state_dict()), "optimizer": self._optimizer_state(k)}
            for k, m in enumerate(self.models)
        ]

    def divergences(
        self, losses: list[torch.Tensor], first_iteration: int, epoch: int, live: list[int]
    ) -> dict[int, DivergenceError]:
        """Per live member, its first non-finite loss (or, if its losses are finite, non-finite weights)."""
        stacked = torch.stack(losses) if losses else None  # (steps, K)
        weights_finite = torch.stack([torch.isfinite(p.detach()).flatten(1).all(1) for p in self.params.values()]).all(
            0
        )
        kept = (
            f"; last good checkpoint kept at {self.checkpoints.path}"
            if self.checkpoints.path is not None and self.checkpoints.path.exists()
            else ""
        )
        errors = {}
        for k in live:
            if stacked is not None and not bool(torch.isfinite(stacked[:, k]).all()):
                bad = ~torch.isfinite(stacked[:, k])
                step = first_iteration + int(bad.nonzero()[0])
                what = f"loss is {float(stacked[:, k][bad][0])}"
            elif not bool(weights_finite[k]):
                step, what = first_iteration + len(losses), "weights are not finite"
            else:
                continue
            errors[k] = DivergenceError(
                f"run {self.labels[k]}: {what} at epoch {epoch}, iteration {step}{kept}", epoch=epoch, iteration=step
            )
        return errors

    def diverged(self, k: int, error: DivergenceError) -> None:
        """Keep member k's last good weights: its slice of the last checkpoint, else its initial weights."""
        path = self.checkpoints.path
        if path is not None and path.exists():
            state = load_tensors(path, producer="this group (resume checkpoint)")
            self.last_good[k] = self._member_state(k, state["params"], state["buffers"])
        else:
            self.last_good[k] = self.initial[k]

    def assert_invariant(self, where: str, live: list[int]) -> None:
        self.masked.assert_invariant(where, members=live)

    def evaluate_epoch(
        self, epoch: int, iteration: int, losses: list[torch.Tensor], lr: float, seconds: float, live: list[int]
    ) -> dict[int, dict]:
        self._write_back()
        train_losses = torch.stack(losses).float().mean(0).tolist() if losses else [float("nan")] * self.members
        rows = {}
        for k in live:
            model = self.models[k]
            val = evaluate(model, self.data.val_x, self.data.val_y)
            test = evaluate(model, self.data.test_x, self.data.test_y)
            rows[k] = {
                "epoch": epoch,
                "iteration": iteration,
                "lr": lr,
                "train_loss": train_losses[k],
                "val_loss": val["loss"],
                "val_acc": val["acc"],
                "test_loss": test["loss"],
                "test_acc": test["acc"],
            }
            self.log(
                f"[{self.labels[k]}] epoch {epoch}/{self.end / self.ipe:g} it {iteration}/{self.end} "
                f"lr {lr:.4g} train_loss {train_losses[k]:.4f} val_acc {val['acc']:.2f} "
                f"test_acc {test['acc']:.2f} ({seconds:.1f}s for {self.members} models)"
            )
        return rows

    # -- resume state ---------------------------------------------------------------------------------
    def state(self) -> dict:
        return {
            "labels": self.labels,
            "lr": self.lr,
            "params": {n: p.detach() for n, p in self.params.items()},
            "buffers": self.buffers,
            "momentum": self.sgd.buffers,
            "last_good": self.last_good,
        }

    def load_state(self, state: dict, path: Path) -> None:
        if state.get("labels") != self.labels:
            raise ConfigError(
                f"{path}: resume checkpoint belongs to runs {state.get('labels')}, not {self.labels}; delete it"
            )
        with torch.no_grad():
            for n, p in self.params.items():
                p.copy_(state["params"][n])
            for n, b in self.buffers.items():
                b.copy_(state["buffers"][n])
        self.sgd.buffers = [b.to(self.device) for b in state["momentum"]] if state["momentum"] is not None else None
        self.lr = state["lr"]  # no global RNG state: every random draw of the loop comes from an EpochPlan
        self.last_good = state["last_good"]

    def run(self) -> list[TrainOutcome | DivergenceError]:
        loop = TrainingLoop(
            self,
            start=0,
            end=self.end,
            ipe=self.ipe,
            save_points=self.save_points,
            keep_best=self.keep_best,
            train=self.train,
            checkpoints=self.checkpoints,
            divergence=self.divergence,
            has_validation=len(self.data.val_y) > 0,
            log_label=f"group {', '.join(self.labels)}",
            log=self.log,
        )
        outcomes = loop.run()
        self._write_back()
        return outcomes
