"""K = 8 seed replicates trained in lockstep in one process vs the same 8 runs one after another.

Both sides train the same 8 models (seeds 0–7, each with its own data order) for the same iterations at batch
128 with SGD and evaluate each model once at the end: ``sequential`` is 8
:class:`prunelab.training.single_model.Trainer` runs, ``grouped`` one
:class:`prunelab.training.stacked.GroupedTrainer`. Throughput ratio = sequential / grouped
(target ≥ 3 on a GPU, where small models are launch-bound; docs/architecture.md §7: 9.5× for K = 8 on an H100).
LeNet-300-100 (MLP), LeNet-5 (conv) and ResNet-20 on digits. Prints one line.
"""

from __future__ import annotations

from common import TRAIN, data_for, describe, device, interleaved, model_for, subset

from prunelab.training.single_model import Trainer
from prunelab.training.stacked import GroupedTrainer

K = 8
# iterations per run, and a training/evaluation subset on a CPU, where ResNet-20 costs ~1 s per step
PLAN = {
    "cuda": {"lenet300": (40, None), "lenet5": (40, None), "resnet20": (20, None)},
    "cpu": {"lenet300": (10, None), "lenet5": (6, (768, 100)), "resnet20": (1, (256, 100))},
}
REPEATS = {"cuda": 3, "cpu": 2}


def sequential(name, data, train):
    for seed in range(K):
        model = model_for(name, data.input_shape, data.train_x.device, seed=seed)
        Trainer(model, data, train, data_seed=seed, label=str(seed), log=lambda _: None).run()


def grouped(name, data, train):
    models = [model_for(name, data.input_shape, data.train_x.device, seed=seed) for seed in range(K)]
    GroupedTrainer(
        models, data, train, data_seeds=list(range(K)), labels=[str(s) for s in range(K)], log=lambda _: None
    ).run()


def main() -> None:
    dev = device()
    parts = []
    for name, (iterations, cut) in PLAN[dev.type].items():
        data = data_for(name, dev)
        if cut:
            data = subset(data, *cut)
        train = {**TRAIN, "iterations": iterations}
        candidates = {
            "sequential": lambda: sequential(name, data, train),
            "grouped": lambda: grouped(name, data, train),
        }
        interleaved(candidates, dev, 1)
        t = interleaved(candidates, dev, REPEATS[dev.type])
        parts.append(
            f"{name}: sequential/grouped {t.ratio('sequential', 'grouped', dev)} (target >=3 on GPU), "
            f"grouped {1e3 * t['grouped'] / iterations / K:.1f}ms per model-step"
        )
    print(f"grouped K={K} [{describe(dev)}] " + " | ".join(parts))


if __name__ == "__main__":
    main()
