"""One training run of the DDP tests, as a script: alone (``python``) it is the single-process reference,
under ``torchrun --nproc_per_node=2`` each rank runs it. It trains LeNet-300-100 on the digits under a fixed
random mask with a batch size that splits unevenly over two ranks (101, last batch 25), checkpointing every
4 iterations; ``--die-at K`` ends every rank abruptly at its K-th training forward (after the checkpoint of
iteration 4), the stand-in for a preempted job. Every rank writes its final weights to ``OUT.rank<r>.pt``.
"""

import argparse
import os
from pathlib import Path

import torch

from prunelab.data.tensors import load_dataset
from prunelab.models import build_model
from prunelab.training.distributed import joined
from prunelab.training.masks import Mask, prunable_parameters
from prunelab.training.single_model import Trainer

TRAIN = {
    "epochs": 2,
    "batch_size": 101,
    "lr": 0.05,
    "momentum": 0.9,
    "weight_decay": 1e-4,
    "schedule": {"name": "cosine"},
}


def die_at(model: torch.nn.Module, call: int) -> None:
    """Exit the process, without any cleanup, at the ``call``-th forward in training mode."""
    seen = []

    def hook(module, inputs):
        if module.training:
            seen.append(1)
            if len(seen) == call:
                os._exit(17)

    model.register_forward_pre_hook(hook)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("out")
    parser.add_argument("--state")
    parser.add_argument("--die-at", type=int, default=0)
    args = parser.parse_args()
    with joined("cpu") as world:
        data = load_dataset({"name": "digits", "size": 8, "channels": 1, "validation": 100})
        model = build_model({"name": "lenet_300_100"}, data.input_shape, data.num_classes, seed=0)
        gen = torch.Generator().manual_seed(1)
        mask = Mask({n: torch.rand(p.shape, generator=gen) < 0.5 for n, p in prunable_parameters(model).items()})
        if args.die_at:
            die_at(model, args.die_at)
        trainer = Trainer(
            model,
            data,
            TRAIN,
            data_seed=0,
            label="ddp",
            mask=mask,
            state_path=args.state,
            checkpoint_every="4it",
            log=lambda line: None,
        )
        outcome = trainer.run()
        torch.save(
            {"model": model.state_dict(), "mask": dict(mask), "history": outcome.history},
            Path(f"{args.out}.rank{world.rank}.pt"),
        )


if __name__ == "__main__":
    main()
