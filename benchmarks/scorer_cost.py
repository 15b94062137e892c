"""Wall time of each data-driven scorer and of the isometry tools, as a ratio to one training epoch.

LeNet-300-100 on the embedded digits (28×28, validation 180, as in config.yaml), one CPU thread, default
hyperparameters and the schema's default scoring data (1000 examples in batches of 100). The epoch is
Trainer.run for one epoch (batch 64, including its end-of-epoch evaluation). Prints one line per item:
``name seconds ratio_to_epoch``. Run: ``PYTHONPATH=src python benchmarks/scorer_cost.py``.
"""

from __future__ import annotations

import time

import torch

from prunelab.data import load_dataset
from prunelab.isometry import approximate_isometry_, orthp_
from prunelab.metrics.jsv import measure
from prunelab.models import build_model
from prunelab.pruning import resolve_hparams
from prunelab.pruning.schedule import run_method, scoring_batches
from prunelab.train import Trainer

AI_ITERATIONS = 200  # timed, then scaled to Wang's 10,000


def timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def main() -> None:
    torch.set_num_threads(1)
    data = load_dataset({"name": "digits", "size": 28, "channels": 1, "validation": 180})

    def fresh():
        return build_model({"name": "lenet_300_100"}, data.input_shape, data.num_classes, seed=0)

    train = {"epochs": 1, "batch_size": 64, "lr": 0.05, "momentum": 0.9, "weight_decay": 1e-4,
             "schedule": {"name": "cosine"}}
    epoch = min(timed(lambda: Trainer(fresh(), data, train, data_seed=0, label="bench", log=lambda _: None).run())
                for _ in range(3))
    print(f"train_epoch {epoch:.3f}s 1.00")
    batches = scoring_batches(data, 1000, 100, 0)
    model = fresh()
    for name in ("magnitude", "snip", "grasp", "sipp_det", "sipp_rand", "sipp_hybrid", "l1_filter"):
        hp = resolve_hparams(name, {})
        seconds = timed(lambda: run_method(model, name, hp, 0.9, data=data, batches=batches, seed=0,
                                           at_init=name in ("snip", "grasp")))
        print(f"{name} {seconds:.3f}s {seconds / epoch:.2f}")
    seconds = timed(lambda: measure(model, [(data.train_x[:100], None)]))
    print(f"jsv_100_examples {seconds:.3f}s {seconds / epoch:.2f}")
    seconds = timed(lambda: orthp_(fresh(), "relu"))
    print(f"orthp {seconds:.3f}s {seconds / epoch:.2f}")
    seconds = timed(lambda: approximate_isometry_(fresh(), None, iterations=AI_ITERATIONS)) * 10_000 / AI_ITERATIONS
    print(f"approximate_isometry_10000_iterations(extrapolated) {seconds:.1f}s {seconds / epoch:.1f}")


if __name__ == "__main__":
    main()
