"""Threads per job on a CPU: C training jobs of one thread each at once vs one job of C threads at a time.

Snakemake gives a training job that is too long to pack `CPU_THREADS` threads (prunelab/plan/resources.py), so
on a small machine such jobs run one after another, each on every core. Small nets use threads poorly, and
many jobs of a record are independent, so `--set-threads train=1 branch=1 prune=1` may get more epochs per
second out of the same cores. Each job here is a fresh process training the same net on the same data (as a
workflow job does); the line gives the machine's epochs per second, C one-thread jobs over one C-thread job.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

JOB = """
import sys, time, torch
sys.path.insert(0, {src!r})
sys.path.insert(0, {bench!r})
from common import TRAIN, data_for, model_for
from prunelab.training.single_model import Trainer
torch.set_num_threads({threads})
data = data_for({model!r}, torch.device("cpu"))
model = model_for({model!r}, data.input_shape, torch.device("cpu"))
train = dict(TRAIN, epochs={epochs}, batch_size=64)
Trainer(model, data, train, data_seed=0, label="job", log=lambda _: None).run()
"""


def run_jobs(model: str, jobs: int, threads: int, epochs: int) -> float:
    """Wall seconds for ``jobs`` processes started together, each training ``epochs`` on ``threads`` threads."""
    code = JOB.format(
        src=str(ROOT / "src"), bench=str(ROOT / "benchmarks"), threads=threads, model=model, epochs=epochs
    )
    start = time.perf_counter()
    procs = [subprocess.Popen([sys.executable, "-c", code]) for _ in range(jobs)]
    if any(p.wait() for p in procs):
        raise SystemExit("a benchmark job failed")
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=40)
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    cores = os.cpu_count() or 1
    parts = []
    for model in ("lenet300", "lenet5"):
        wide, narrow = [], []
        for _ in range(args.repeats):  # interleaved; the fastest repeat of each is kept
            wide.append(run_jobs(model, 1, cores, args.epochs))
            narrow.append(run_jobs(model, cores, 1, args.epochs))
        ratio = (cores / min(narrow)) / (1 / min(wide))
        parts.append(f"{model}: {cores}x1-thread/1x{cores}-thread epochs per second {ratio:.2f}x")
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"threads_per_job  {'; '.join(parts)} ({cores} cores, load average {load})")


if __name__ == "__main__":
    main()
