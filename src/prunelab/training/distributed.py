"""Data-parallel training (PyTorch DDP) that reproduces the single-process run with the same global batch.

Only training (dense and branch runs) is ever data-parallel; pruning and scoring jobs stay single-process,
so every data-driven scorer (SNIP, GraSP, OBD, OBS, WoodFisher …) sees exactly the batches it sees without
DDP and needs no all-reduce of its statistics.

How the ranks stay equal to one process: every rank draws the same global batch (the epoch plan is a pure
function of ``(data_seed, epoch)``) and keeps its contiguous slice of it (``data.batches.shard_bounds``;
streamed data decodes only that slice). DDP averages the gradients of the ranks, so each rank's mean loss is weighted by
``world · local / global`` examples before ``backward``: the average is then the gradient of the global
batch's mean loss even when the batch does not split evenly. BatchNorm layers become SyncBatchNorm on a GPU
(statistics over the global batch, as in one process); torch implements SyncBatchNorm for GPUs only, so on a
CPU (gloo) BatchNorm statistics stay per rank and only BatchNorm-free nets match the single-process run.

Masks stay exact because the gradients are masked after DDP's all-reduce, on every rank, and every rank
checks the invariant where the single-process loop does. Only rank 0 writes files (the resume checkpoint and
the run's outputs, each atomically); every rank resumes from that one checkpoint.

A job launches itself: ``prunelab train`` with ``runtime.processes`` > 1 re-runs its own command under
``torchrun --standalone`` (one node; under SLURM inside the job's allocation, which holds the GPUs), and the
ranks join the process group from torchrun's environment (``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``).
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch import nn

from prunelab.errors import ConfigError

RANK_ENV = ("RANK", "WORLD_SIZE", "LOCAL_RANK")  # set by torchrun for each rank


@dataclass(frozen=True)
class World:
    """This process's place among the training ranks; ``World()`` is the single-process run."""

    rank: int = 0
    size: int = 1

    @property
    def writer(self) -> bool:
        """Whether this rank writes files: rank 0 only, so no two processes write one path."""
        return self.rank == 0

    @property
    def shard(self) -> tuple[int, int]:
        return self.rank, self.size

    def check_batches(self, n: int, batch_size: int, label: str) -> None:
        """Every rank needs at least one example of every batch (an empty shard has no mean loss)."""
        last = n - (-(-n // batch_size) - 1) * batch_size
        if self.size > 1 and min(batch_size, last) < self.size:
            raise ConfigError(
                f"run {label}: a batch of {min(batch_size, last)} examples cannot be split over "
                f"{self.size} processes (runtime.processes); use fewer processes"
            )

    def wrap(self, model: nn.Module) -> nn.Module:
        """The module the training forward calls: ``model`` itself, or DDP around it (SyncBatchNorm on GPU).

        The conversion to SyncBatchNorm is in place and keeps parameter and buffer identity, so optimizers,
        masks and ``state_dict`` keys built on ``model`` stay valid.
        """
        if self.size == 1:
            return model
        device = next(model.parameters()).device
        if device.type == "cuda":
            for name, child in model.named_children():  # in place: the caller keeps its reference
                model.add_module(name, nn.SyncBatchNorm.convert_sync_batchnorm(child))
        # buffers are not broadcast: SyncBatchNorm keeps them equal, and BatchNorm on CPU is per rank
        return nn.parallel.DistributedDataParallel(
            model, device_ids=[device.index] if device.type == "cuda" else None, forward_sync_buffers=False
        )

    def backward(self, loss: torch.Tensor, local: int, total: int) -> torch.Tensor:
        """Backpropagate this rank's mean ``loss`` over ``local`` of the batch's ``total`` examples; return
        the global batch's mean loss (summed over the ranks), which every rank logs and checks alike."""
        if self.size == 1:
            loss.backward()
            return loss
        share = local / total
        (loss * (share * self.size)).backward()  # DDP divides the summed gradients by the world size
        reduced = loss.detach() * share
        dist.all_reduce(reduced)
        return reduced


def current() -> World:
    """The world of the process group this process joined, or the single-process world."""
    if dist.is_available() and dist.is_initialized():
        return World(dist.get_rank(), dist.get_world_size())
    return World()


def is_rank() -> bool:
    """Whether torchrun started this process as one rank of a job."""
    return all(v in os.environ for v in RANK_ENV)


@contextmanager
def joined(device: str) -> Iterator[World]:
    """Join the process group torchrun set up (nccl on GPUs, gloo on CPU) for the job; leave it after."""
    if not is_rank():
        yield World()
        return
    cuda = device != "cpu" and torch.cuda.is_available()
    if cuda:
        torch.cuda.set_device(int(os.environ["LOCAL_RANK"]))  # "cuda" then means this rank's GPU
    dist.init_process_group("nccl" if cuda else "gloo")
    try:
        yield current()
    finally:
        dist.destroy_process_group()


def launch(argv: list[str], processes: int) -> int:
    """Run ``python -m prunelab argv`` as ``processes`` ranks under torchrun on this node; its exit status.

    ``--standalone`` picks a free rendezvous port, so several DDP jobs can share a node.
    """
    command = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        f"--nproc_per_node={processes}",
        "-m",
        "prunelab",
        *argv,
    ]
    return subprocess.call(command)
