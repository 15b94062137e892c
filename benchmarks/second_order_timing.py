"""Wall time of each second-order scorer as a ratio to one training epoch (LeNet-300-100, digits 28×28).

Digits with validation 180 (as in config.yaml), one CPU thread by default. The network is trained for two
epochs first so that curvature is measured on a partly trained net; the epoch is ``Trainer.run`` for one
epoch (batch 64, including its end-of-epoch evaluation), best of two. Scoring uses the schema's default
scoring data (1000 training examples in batches of 100) and prunes to 80% in one step with the default
hyperparameters unless shown. Exact OBS runs on the last layer only (1000 weights; the full net is refused).
Prints one line per item: ``name seconds ratio_to_epoch``.

    PYTHONPATH=src python benchmarks/second_order_timing.py [--threads N]
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
         "schedule": {"name": "cosine"}}
LAST_LAYER_ONLY = {"exclude": ["net.1.weight", "net.3.weight"]}
SCORERS = [
    ("lm", {}, {}), ("qm", {}, {}), ("obd", {"curvature": "ggn"}, {}),
    ("obd", {"curvature": "empirical_fisher"}, {}), ("obd", {"curvature": "mc_fisher"}, {}),
    ("obd", {"curvature": "hutchinson", "samples": 10}, {}), ("lobs", {}, {}),
    ("woodfisher", {}, {}), ("woodfisher", {"block_size": 32}, {}), ("woodfisher", {"num_grads": 100}, {}),
    ("obs", {}, LAST_LAYER_ONLY), ("obs", {"update": "joint"}, LAST_LAYER_ONLY),
]


def timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1)
    torch.set_num_threads(parser.parse_args().threads)
    data = load_dataset({"name": "digits", "size": 28, "channels": 1, "validation": 180})
    model = build_model({"name": "lenet_300_100"}, data.input_shape, data.num_classes, seed=0)
    quiet = lambda message: None
    Trainer(model, data, {**TRAIN, "epochs": 2}, data_seed=0, label="warm-up", log=quiet).run()
    epoch = min(timed(lambda: Trainer(build_model({"name": "lenet_300_100"}, data.input_shape, data.num_classes,
                                                  seed=0), data, TRAIN, data_seed=1, label="epoch", log=quiet).run())
                for _ in range(2))
    print(f"train_epoch {epoch:.3f}s 1.00")
    batches = scoring_batches(data, 1000, 100, 0)
    run_method(model, "lm", resolve_hparams("lm", {}), 0.8, batches=batches)       # torch.func warm-up
    for name, given, options in SCORERS:
        hparams = resolve_hparams(name, given)
        seconds = timed(lambda: run_method(model, name, hparams, 0.8, batches=batches, data=data, **options))
        label = name + "".join(f",{k}={v}" for k, v in given.items()) + (",last_layer" if options else "")
        print(f"{label} {seconds:.3f}s {seconds / epoch:.2f}")


if __name__ == "__main__":
    main()
