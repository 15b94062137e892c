"""Shared pieces of the ratio benchmarks: device, data, models, synchronised timing.

Every benchmark compares alternatives measured in the same process, interleaved over repeats, and reports
ratios of medians, so that a busy shared machine slows all alternatives alike instead of skewing one.
"""

from __future__ import annotations

import dataclasses
import os
import platform
import sys
import time
from collections.abc import Callable
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from prunelab.data.tensors import load_dataset  # noqa: E402
from prunelab.models import build_model  # noqa: E402

MODELS = {  # name -> (model spec, dataset spec)
    "lenet300": ({"name": "lenet_300_100"}, {"name": "digits", "size": 28, "channels": 1, "validation": 100}),
    "lenet5": ({"name": "lenet5"}, {"name": "digits", "size": 28, "channels": 1, "validation": 100}),
    "resnet20": (
        {"name": "resnet20"},
        {"name": "digits", "size": 32, "channels": 3, "validation": 100, "augment": {"crop_padding": 4, "flip": True}},
    ),
}
TRAIN = {
    "epochs": 1,
    "batch_size": 128,
    "optimizer": "sgd",
    "lr": 0.05,
    "momentum": 0.9,
    "nesterov": False,
    "weight_decay": 5e-4,
    "warmup_epochs": 0,
    "schedule": {"name": "constant"},
    "save_at": [],
}


def device() -> torch.device:
    """The GPU when there is one; on a CPU, torch uses every core (the machine's, not Snakemake's share)."""
    if torch.cuda.is_available():
        return torch.device("cuda")
    torch.set_num_threads(os.cpu_count() or 1)
    return torch.device("cpu")


def describe(dev: torch.device) -> str:
    """The device and torch version; on a CPU also the load average when the line is printed."""
    if dev.type == "cuda":
        return f"{torch.cuda.get_device_name(dev)}, torch {torch.__version__}"
    return (
        f"CPU {platform.processor() or platform.machine()} x{torch.get_num_threads()} threads, "
        f"torch {torch.__version__}, {load()}"
    )


def data_for(name: str, dev: torch.device):
    return load_dataset(MODELS[name][1], device=dev)


def model_for(name: str, input_shape: tuple[int, ...], dev: torch.device, seed: int = 0) -> torch.nn.Module:
    return build_model(MODELS[name][0], input_shape, 10, seed=seed).to(dev)


def sync(dev: torch.device) -> None:
    if dev.type == "cuda":
        torch.cuda.synchronize(dev)


def cpu_seconds() -> float:
    """User + system time of this process and its finished children (DataLoader workers are children)."""
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def timed(fn: Callable[[], object], dev: torch.device) -> tuple[float, float]:
    """Wall seconds and CPU seconds of ``fn()``."""
    sync(dev)
    wall, cpu = time.perf_counter(), cpu_seconds()
    fn()
    sync(dev)
    return time.perf_counter() - wall, cpu_seconds() - cpu


class Times(dict):
    """``{candidate: fastest wall seconds}``, plus ``cpu``: ``{candidate: fewest CPU seconds}``."""

    cpu: dict[str, float]

    def ratio(self, a: str, b: str, dev: torch.device) -> str:
        """``a``/``b`` in wall time; on a CPU also in CPU time, which other processes disturb less."""
        text = f"{self[a] / self[b]:.2f}x"
        return text if dev.type == "cuda" else f"{text} (cpu-time {self.cpu[a] / self.cpu[b]:.2f}x)"


def interleaved(candidates: dict[str, Callable[[], object]], dev: torch.device, repeats: int) -> Times:
    """Fastest time of each candidate over ``repeats`` rounds; candidates alternate within a round.

    The minimum, not the median: the work is deterministic, so every slower repeat is time lost to other
    processes (the 2-core machine these numbers come from is shared), and the minimum is the estimate of
    the work's own cost that such interference disturbs least. CPU time is reported beside wall time for
    the same reason; it counts what this process and its DataLoader workers computed, whoever else ran.
    """
    walls: dict[str, list[float]] = {name: [] for name in candidates}
    cpus: dict[str, list[float]] = {name: [] for name in candidates}
    for _ in range(repeats):
        for name, fn in candidates.items():
            wall, cpu = timed(fn, dev)
            walls[name].append(wall)
            cpus[name].append(cpu)
    times = Times({name: min(values) for name, values in walls.items()})
    times.cpu = {name: min(values) for name, values in cpus.items()}
    return times


def load() -> str:
    """The 1-minute load average, printed with CPU results: above the core count, others were running."""
    return f"load {os.getloadavg()[0]:.1f}/{os.cpu_count()} cores"


def subset(data, n_train: int, n_eval: int):
    """The first ``n_train`` training and ``n_eval`` validation/test examples: same tensors, shorter epochs."""
    return dataclasses.replace(
        data,
        train_x=data.train_x[:n_train],
        train_y=data.train_y[:n_train],
        val_x=data.val_x[:n_eval],
        val_y=data.val_y[:n_eval],
        test_x=data.test_x[:n_eval],
        test_y=data.test_y[:n_eval],
    )
