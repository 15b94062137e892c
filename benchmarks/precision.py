"""The spec's speed switches against the default: train.precision=bf16 and train.channels_last=true.

Each variant is a :class:`prunelab.training.single_model.Trainer` run of the same model for the same iterations
at batch 128;ratios are default time / variant time (above 1 = the switch is faster). bf16 autocast pays off where
matrix units take bf16 (tensor cores; AMX or AVX-512-BF16 on CPUs); channels_last where the convolution
library prefers NHWC (cuDNN with tensor cores, oneDNN on CPUs). LeNet-300-100 has no convolutions, so only
bf16 applies to it. Prints one line.
"""

from __future__ import annotations

from common import TRAIN, data_for, describe, device, interleaved, model_for, subset

from prunelab.training.single_model import Trainer

VARIANTS = {
    "fp32": {},
    "bf16": {"precision": "bf16"},
    "channels_last": {"channels_last": True},
    "bf16+channels_last": {"precision": "bf16", "channels_last": True},
}
PLAN = {
    "cuda": {"lenet300": (100, None), "resnet20": (60, None)},
    "cpu": {"lenet300": (20, None), "resnet20": (2, (256, 100))},
}
REPEATS = {"cuda": 3, "cpu": 3}


def run(name, data, train):
    model = model_for(name, data.input_shape, data.train_x.device)
    Trainer(model, data, train, data_seed=0, label=name, log=lambda _: None).run()


def main() -> None:
    dev = device()
    parts = []
    for name, (iterations, cut) in PLAN[dev.type].items():
        data = data_for(name, dev)
        if cut:
            data = subset(data, *cut)
        variants = {k: v for k, v in VARIANTS.items() if name == "resnet20" or "channels_last" not in v}
        candidates = {
            k: (lambda v=v: run(name, data, {**TRAIN, "iterations": iterations, **v})) for k, v in variants.items()
        }
        interleaved(candidates, dev, 1)
        t = interleaved(candidates, dev, REPEATS[dev.type])
        speedups = ", ".join(f"{k} {t.ratio('fp32', k, dev)}" for k in variants if k != "fp32")
        parts.append(f"{name}: speed-up vs fp32: {speedups} (fp32 {1e3 * t['fp32'] / iterations:.1f}ms/step)")
    print(f"precision [{describe(dev)}] " + " | ".join(parts))


if __name__ == "__main__":
    main()
