"""Cost of the mask in a training step: prunelab's masked step vs the unmasked step vs prune hooks.

One step = forward, cross-entropy, backward, SGD (momentum, weight decay), on a fixed device-resident batch
of 128, so that only the step itself is timed. The three variants, at 90% global random sparsity:

* ``dense`` — no mask;
* ``masked`` — the Trainer's masked step: one ``_foreach_mul_`` of the gradients by the mask before the
  optimizer step (zero gradients keep pruned weights and optimizer state exactly zero, so there is no
  second pass over the weights; target masked/dense ≤ 1.02);
* ``hooks`` — ``torch.nn.utils.prune.custom_from_mask``, which re-derives ``weight = weight_orig * mask`` in a
  forward pre-hook on every call (docs/architecture.md §7: hooks/masked = 1.33 on an H100).

LeNet-300-100 (1×28×28) and ResNet-20 (3×32×32). Prints one line.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from common import TRAIN, describe, device, interleaved, model_for
from torch.nn.utils import prune

from prunelab.training.masks import Mask, MaskedParameters, prunable_parameters
from prunelab.training.single_model import build_optimizer

SHAPES = {"lenet300": (1, 28, 28), "resnet20": (3, 32, 32)}
STEPS = {"cuda": {"lenet300": 200, "resnet20": 50}, "cpu": {"lenet300": 40, "resnet20": 2}}
REPEATS = 5
SPARSITY = 0.9


def random_mask(model, seed=0) -> Mask:
    gen = torch.Generator().manual_seed(seed)
    return Mask(
        {
            n: (torch.rand(p.shape, generator=gen) >= SPARSITY).to(p.device)
            for n, p in prunable_parameters(model).items()
        }
    )


def stepper(name, dev, variant):
    model = model_for(name, SHAPES[name], dev)
    mask = random_mask(model)
    masked = None
    if variant == "hooks":
        modules = dict(model.named_modules())
        for pname, m in mask.items():
            prune.custom_from_mask(modules[pname.rsplit(".", 1)[0]], "weight", m)
    opt = build_optimizer(model, TRAIN)
    if variant == "masked":
        masked = MaskedParameters(model, mask)
        masked.install(opt)
    gen = torch.Generator().manual_seed(1)
    x = torch.randn(TRAIN["batch_size"], *SHAPES[name], generator=gen).to(dev)
    y = torch.randint(0, 10, (TRAIN["batch_size"],), generator=gen).to(dev)

    def steps(n):
        for _ in range(n):
            loss = F.cross_entropy(model(x), y)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            if masked is not None:
                masked.mask_gradients()
            opt.step()

    return steps


def mask_pass_seconds(name, dev, calls=200) -> float:
    """The masked step's only extra work, timed alone: one mask multiply of all prunable gradients."""
    model = model_for(name, SHAPES[name], dev)
    masked = MaskedParameters(model, random_mask(model))
    x = torch.randn(TRAIN["batch_size"], *SHAPES[name], device=dev)
    F.cross_entropy(model(x), torch.zeros(TRAIN["batch_size"], dtype=torch.long, device=dev)).backward()

    def passes():
        for _ in range(calls):
            masked.mask_gradients()

    return interleaved({"pass": passes}, dev, 2 * REPEATS)["pass"] / calls


def main() -> None:
    dev = device()
    parts = []
    for name in SHAPES:
        n = STEPS[dev.type][name]
        runs = {variant: stepper(name, dev, variant) for variant in ("dense", "masked", "hooks")}
        candidates = {variant: (lambda f=f: f(n)) for variant, f in runs.items()}
        interleaved(candidates, dev, 1)
        t = interleaved(candidates, dev, REPEATS)
        step, mask_pass = t["dense"] / n, mask_pass_seconds(name, dev)
        parts.append(
            f"{name}: masked/dense {t.ratio('masked', 'dense', dev)} (target <=1.02; the mask pass alone "
            f"{1e6 * mask_pass:.0f}us = {100 * mask_pass / step:.1f}% of a step), hooks/masked "
            f"{t.ratio('hooks', 'masked', dev)} (H100: 1.33), dense {1e3 * step:.2f}ms/step"
        )
    print(f"masked_step [{describe(dev)}] " + " | ".join(parts))


if __name__ == "__main__":
    main()
