"""Wall time of each second-order scorer vs one training epoch, LeNet-300-100 on digits (1×28×28).

The network is trained for two epochs first, so curvature is measured on a partly trained net. Scoring
uses 1000 training examples in batches of 100 (the ``scoring`` defaults), one pruning step to 80%
sparsity. One line per scorer: seconds and the ratio to one training epoch.

    PYTHONPATH=src python benchmarks/second_order_timing.py [--threads N] [--device cpu|cuda]
"""

from __future__ import annotations

import argparse
import time

import torch

from prunelab.data import load_dataset
from prunelab.models import build_model
from prunelab.pruning import resolve_hparams
from prunelab.pruning.schedule import run_method, scoring_batches
from prunelab.train import Trainer

TRAIN = {"epochs": 1, "batch_size": 64, "lr": 0.05, "momentum": 0.9, "weight_decay": 1e-4,
         "schedule": {"name": "constant"}}
SCORERS = [
    ("lm", {}, {}), ("qm", {}, {}), ("obd", {"curvature": "ggn"}, {}),
    ("obd", {"curvature": "empirical_fisher"}, {}), ("obd", {"curvature": "mc_fisher"}, {}),
    ("obd", {"curvature": "hutchinson", "samples": 10}, {}), ("lobs", {}, {}),
    ("woodfisher", {}, {}), ("woodfisher", {"block_size": 32}, {}),
    ("obs", {}, {"exclude": ["net.1.weight", "net.3.weight"]}),
    ("obs", {"update": "joint"}, {"exclude": ["net.1.weight", "net.3.weight"]}),
]


def timed(fn) -> float:
    if torch.cuda.is_available():
        torch.cuda.synchronize()
    start = time.perf_counter()
    fn()
    if torch.cuda.is_available():
        torch.cuda.synchronize()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    data = load_dataset({"name": "digits", "size": 28, "channels": 1, "validation": 100}, device=args.device)
    model = build_model({"name": "lenet_300_100"}, data.input_shape, data.num_classes, seed=0).to(args.device)
    quiet = lambda message: None
    Trainer(model, data, {**TRAIN, "epochs": 2}, data_seed=0, label="warm-up", log=quiet).run()
    epoch = min(timed(lambda: Trainer(model, data, TRAIN, data_seed=1, label="epoch", log=quiet).run())
                for _ in range(2))
    print(f"one training epoch ({len(data.train_y)} examples, batch 64, incl. evaluation): {epoch:.3f} s")
    batches = scoring_batches(data, 1000, 100, 0)
    run_method(model, "lm", resolve_hparams("lm", {}), 0.8, batches=batches)       # torch.func warm-up
    for name, given, options in SCORERS:
        hparams = resolve_hparams(name, given)
        seconds = timed(lambda: run_method(model, name, hparams, 0.8, batches=batches, data=data, **options))
        label = f"{name} {given or ''} {'(last layer only, 1000 weights)' if options else ''}".strip()
        print(f"{label:<60s} {seconds:8.2f} s  {seconds / epoch:8.1f} epochs")


if __name__ == "__main__":
    main()
