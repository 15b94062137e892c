"""How a job runs — paths, device, threads, checkpointing, determinism — which is never part of a run hash.

The workflow passes these settings to jobs through ``PRUNELAB_*`` environment variables (set when the
Snakefile is parsed, on the submitting host and again inside every cluster job), not through rule params:
Snakemake reruns a job when its params change, and switching a run from CPU to GPU must not rerun it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, fields
from pathlib import Path
from typing import TYPE_CHECKING

from prunelab.errors import ConfigError

if TYPE_CHECKING:
    import torch

PREFIX = "PRUNELAB_"


@dataclass
class Runtime:
    """How a job runs (never part of a hash): paths, device, threads, checkpointing, determinism."""

    results: Path = Path("results")
    data_root: str = "data"
    device: str = "auto"
    threads: int = 0
    checkpoint_every: str | int = "1ep"
    checkpoint_minutes: float = 10.0  # also checkpoint after this much wall time (0: off); bounds preemption loss
    keep_train_state: bool = False
    deterministic: bool = True
    cudnn_benchmark: bool = False
    on_divergence: str = "fail"  # "fail": stop, no outputs; "record": outputs marked diverged, children skipped
    compile: bool = False  # torch.compile(mode="reduce-overhead") of the training forward (CUDA graphs on a GPU)
    loader_workers: int = 4  # DataLoader processes decoding a streamed dataset (ImageNet); results do not depend on it
    processes: int = 1  # DDP ranks per training job, one per GPU (prunelab.training.distributed); scoring stays single

    def configure(self) -> torch.device:
        """Apply threads and determinism settings; return the device jobs compute on."""
        import torch  # here, not at the top: the Snakefile imports this module to parse every config

        if self.threads > 0:
            torch.set_num_threads(self.threads)
        if self.device == "cuda" and not torch.cuda.is_available():
            raise ConfigError("runtime.device=cuda but no CUDA device is visible to this job")
        device = torch.device(
            "cuda"
            if self.device == "auto" and torch.cuda.is_available()
            else "cpu"
            if self.device == "auto"
            else self.device
        )
        if device.type == "cuda":  # CPU kernels are deterministic already; this switch costs seconds to import
            if self.deterministic:
                os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
                torch.use_deterministic_algorithms(True, warn_only=True)
            torch.backends.cudnn.benchmark = self.cudnn_benchmark
        return device

    @classmethod
    def from_environment(cls, **overrides) -> Runtime:
        """Defaults, then ``PRUNELAB_*`` variables, then explicit ``overrides`` (e.g. CLI flags)."""
        values = {}
        for f in fields(cls):
            raw = os.environ.get(PREFIX + f.name.upper())
            if raw is not None:
                values[f.name] = _parse(raw, f.default)
        values.update({k: v for k, v in overrides.items() if v is not None})
        if "results" in values:
            values["results"] = Path(values["results"])
        return cls(**values)


def _parse(raw: str, default):
    if isinstance(default, bool):
        return raw.lower() in ("1", "true", "yes")
    if isinstance(default, int):
        return int(raw)
    if isinstance(default, float):
        return float(raw)
    return raw


def result_config(config: dict) -> dict:
    """The config minus ``runtime`` (how jobs run, never what they compute): what the rules that record or
    check the config see, so switching the device or seed grouping reruns none of them."""
    return {key: value for key, value in config.items() if key != "runtime"}


def runtime_environment(config: dict, source: str | None = None) -> dict[str, str]:
    """The ``PRUNELAB_*`` variables for a validated suite config (plus ``PYTHONPATH`` = ``source``)."""
    runtime = config.get("runtime", {})
    values = {
        "results": config.get("results", "results"),
        "data_root": config.get("data_root", "data"),
        **{
            k: runtime[k]
            for k in (
                "device",
                "checkpoint_every",
                "checkpoint_minutes",
                "keep_train_state",
                "deterministic",
                "cudnn_benchmark",
                "on_divergence",
                "compile",
                "loader_workers",
                "processes",
            )
            if k in runtime
        },
    }
    env = {PREFIX + k.upper(): str(v) for k, v in values.items()}
    if source:
        env["PYTHONPATH"] = source
    return env
