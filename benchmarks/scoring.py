"""Every pruning method's scoring cost: wall time as a ratio to one training epoch, and peak memory.

The issue's targets, on the demo's default CPU config (LeNet-300-100 on the embedded digits, 28×28,
validation 180, as in config.yaml) and on a GPU when there is one: SNIP, GraSP, OBD, SiPP, LM/QM ≤ 1 epoch
each; WoodFisher ≤ 3 epochs at block 128. The epoch is ``Trainer.run`` for one epoch (batch 64 with its
end-of-epoch evaluation; fastest of two) of the same model on the same data. Each method prunes the
partly trained net (two epochs; SNIP and GraSP score a fresh initialisation, as in their papers) to 80 %
in one step with its default hyperparameters and the schema's default scoring data (1000 training
examples in batches of 100). Exact OBS is timed on the last layer only: on the whole net it refuses (a
dense N×N Hessian for N > 10⁴). ``l1_blocks`` needs a ResNet and is skipped on other models.

The digits training set has 1,338 images, so its epoch is short next to a fixed 1000-example scoring set.
``--train-examples 60000`` tiles it to MNIST's size, the scale the published configs train at: the epoch
grows, the scoring data stays the same.

Peak memory is what the scorer adds on top of the process: on a GPU ``torch.cuda.max_memory_allocated``
above what was allocated before; on a CPU the rise of the resident-set high-water mark (Linux VmHWM,
reset before each method through /proc/self/clear_refs).

Prints one line per item (``name seconds ratio_to_epoch peak_MiB [target]``) and a summary line last:

    python benchmarks/scoring.py [--model lenet300] [--train-examples N] [--threads N] [--methods a b ...]
"""

from __future__ import annotations

import argparse
import dataclasses
import time
from pathlib import Path

import torch
from common import describe, device, sync  # noqa: F401  (puts the checkout's src/ on sys.path)

from prunelab.branch_types.isometry import approximate_isometry_, orthp_
from prunelab.data.tensors import load_dataset
from prunelab.errors import PrunelabError
from prunelab.metrics.jsv import measure
from prunelab.models import build_model
from prunelab.pruning import methods, resolve_hparams
from prunelab.pruning.multistep import run_method, scoring_batches
from prunelab.training.single_model import Trainer

MODELS = {  # name -> (model spec, dataset spec)
    "lenet300": ({"name": "lenet_300_100"}, {"name": "digits", "size": 28, "channels": 1, "validation": 180}),
    "resnet20": ({"name": "resnet20", "width": 16}, {"name": "digits", "size": 32, "channels": 3, "validation": 180}),
}
TRAIN = {
    "epochs": 1,
    "batch_size": 64,
    "lr": 0.05,
    "momentum": 0.9,
    "weight_decay": 1e-4,
    "schedule": {"name": "cosine"},
}
TARGETS = {
    "snip": 1,
    "grasp": 1,
    "obd": 1,
    "sipp_det": 1,
    "sipp_rand": 1,
    "sipp_hybrid": 1,
    "lm": 1,
    "qm": 1,
    "woodfisher": 3,
}
AT_INIT = ("snip", "grasp")
SPARSITY = 0.8
AI_ITERATIONS = 200  # approximate isometry: timed, then scaled to Wang et al.'s 10,000 iterations


def variants(model_name: str, last_layer: list[str]) -> list[tuple[str, str, dict, dict]]:
    """(label, method, hparams, run_method options): every method at its defaults, then notable settings."""
    rows = [
        (name, name, {}, {"exclude": last_layer} if name == "obs" else {})
        for name in sorted(methods())
        if not (name == "l1_blocks" and "resnet" not in model_name)
    ]
    rows += [
        ("obd,empirical_fisher", "obd", {"curvature": "empirical_fisher"}, {}),
        ("obd,mc_fisher", "obd", {"curvature": "mc_fisher"}, {}),
        ("obd,hutchinson,samples=10", "obd", {"curvature": "hutchinson", "samples": 10}, {}),
        ("woodfisher,block_size=32", "woodfisher", {"block_size": 32}, {}),
        ("woodfisher,num_grads=100", "woodfisher", {"num_grads": 100}, {}),
        ("obs,update=joint", "obs", {"update": "joint"}, {"exclude": last_layer}),
    ]
    return rows


class PeakMemory:
    """Peak memory (MiB) added by the code run inside the ``with`` block, on the GPU or in this process."""

    def __init__(self, dev: torch.device):
        self.dev, self.mib = dev, 0.0

    def __enter__(self):
        if self.dev.type == "cuda":
            torch.cuda.reset_peak_memory_stats(self.dev)
            self.base = torch.cuda.memory_allocated(self.dev)
        else:
            Path("/proc/self/clear_refs").write_text("5")  # resets VmHWM to the current RSS
            self.base = _status_kib("VmRSS")
        return self

    def __exit__(self, *exc):
        if self.dev.type == "cuda":
            self.mib = (torch.cuda.max_memory_allocated(self.dev) - self.base) / 2**20
        else:
            self.mib = (_status_kib("VmHWM") - self.base) / 1024


def _status_kib(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"/proc/self/status has no {field}")


def tiled(data, examples: int):
    """The training set repeated to ``examples`` images (same validation/test): an MNIST-sized epoch."""
    if examples <= len(data.train_y):
        return data
    reps = -(-examples // len(data.train_y))
    return dataclasses.replace(
        data,
        train_x=data.train_x.repeat(reps, *[1] * (data.train_x.dim() - 1))[:examples],
        train_y=data.train_y.repeat(reps)[:examples],
    )


def timed(fn, dev: torch.device) -> float:
    sync(dev)
    start = time.perf_counter()
    fn()
    sync(dev)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", choices=sorted(MODELS), default="lenet300")
    parser.add_argument("--train-examples", type=int, default=0, help="tile the training set to this many images")
    parser.add_argument("--threads", type=int, default=0, help="CPU threads (default: every core)")
    parser.add_argument("--methods", nargs="*", help="only these labels (default: all)")
    args = parser.parse_args()
    dev = device()
    if args.threads:
        torch.set_num_threads(args.threads)
    model_spec, data_spec = MODELS[args.model]
    data = tiled(load_dataset(data_spec, device=dev), args.train_examples)

    def fresh(seed: int = 0) -> torch.nn.Module:
        return build_model(model_spec, data.input_shape, data.num_classes, seed=seed).to(dev)

    quiet = lambda message: None  # noqa: E731
    trained = fresh()
    Trainer(trained, data, {**TRAIN, "epochs": 2}, data_seed=0, label="warm-up", log=quiet).run()
    epoch = min(
        timed(lambda: Trainer(fresh(), data, TRAIN, data_seed=1, label="epoch", log=quiet).run(), dev) for _ in range(2)
    )
    print(f"# {args.model}, {len(data.train_y)} training images, {describe(dev)}")
    print(f"train_epoch {epoch:.3f}s 1.00")
    batches = scoring_batches(data, 1000, 100, 0)
    last_layer = [name for name, p in trained.named_parameters() if p.dim() > 1][:-1]
    run_method(trained, "lm", resolve_hparams("lm", {}), SPARSITY, batches=batches)  # torch.func warm-up
    ratios, missed = {}, []
    for label, name, given, options in variants(args.model, last_layer):
        if args.methods and label not in args.methods:
            continue
        model = fresh() if name in AT_INIT else trained
        hparams = resolve_hparams(name, given)
        try:
            with PeakMemory(dev) as peak:
                seconds = timed(
                    lambda: run_method(
                        model,
                        name,
                        hparams,
                        SPARSITY,
                        batches=batches,
                        data=data,
                        seed=0,
                        at_init=name in AT_INIT,
                        **options,
                    ),
                    dev,
                )
        except PrunelabError as error:
            print(f"{label} refused: {error}")
            continue
        ratio = seconds / epoch
        target = TARGETS.get(label)
        verdict = "" if target is None else f" target<={target} {'met' if ratio <= target else 'MISSED'}"
        if target is not None:
            ratios[label] = ratio
            missed += [label] if ratio > target else []
        print(f"{label} {seconds:.3f}s {ratio:.2f} {peak.mib:.0f}MiB{verdict}", flush=True)
    for label, fn in [
        ("jsv_100_examples", lambda: measure(trained, [(data.train_x[:100], None)])),
        ("orthp", lambda: orthp_(fresh(), "relu")),
    ]:
        if not args.methods:
            seconds = timed(fn, dev)
            print(f"{label} {seconds:.3f}s {seconds / epoch:.2f}")
    if not args.methods:
        seconds = timed(lambda: approximate_isometry_(fresh(), None, iterations=AI_ITERATIONS), dev)
        seconds *= 10_000 / AI_ITERATIONS
        print(f"approximate_isometry_10000_iterations(extrapolated) {seconds:.1f}s {seconds / epoch:.1f}")
    summary = " ".join(f"{label} {ratio:.2f}" for label, ratio in ratios.items())
    print(
        f"scoring {args.model} ({len(data.train_y)} images, epoch {epoch:.2f}s), epochs: {summary}; "
        f"targets missed: {', '.join(missed) or 'none'}"
    )


if __name__ == "__main__":
    main()
