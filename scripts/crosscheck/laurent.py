"""Cross-check of Laurent et al.'s loss-model criteria (MP, LM, QM, OBD; docs/methods.md §1.8, §2.4, §2.5).

Compares the authors' ``pruning.get_mask_iteratively`` (repository Thrandis/loss-models-pruning @ b784b84,
file ``pruning.py``: ``get_mask``, ``compute_ranks``, ``global_diagonal_pruning``, ``GradComputer``,
``DiagonalGGNComputer``) with prunelab's ``run_method`` (methods ``magnitude`` for MP, ``lm``, ``qm``, ``obd``)
on one trained 784-300-100-10 tanh MLP on real Fashion-MNIST, for every criterion × λ × T × s.

Both sides score step t on the SAME batches: prunelab's :class:`ScoringDraws` of step t, which the authors' code
receives as the t-th pass over its ``loader`` (their experiments pass a shuffled DataLoader, so each of their
steps sees new examples; ``--per-step fresh``, prunelab's default). Their step sparsities come from their
``--exp`` recurrence p_t = p_{t−1} + (1 − p_{t−1})·r and their count from Python's ``round``; ours from
``step_sparsities`` and ⌊sN+½⌋. For T > 1 the table also scores prunelab under the other ``per_step`` choice
against the authors, which is the effect of that decision.

Printed per (criterion, λ, T, s, seed): kept counts, Jaccard of the kept sets per layer and in total, and test
accuracy, test loss and train loss right after pruning (no retraining) of each side's θ ⊙ m.

``--pin`` instead prints the authors' masks (sha256 of the bool bytes) on the tiny float64 digits setup of
:func:`tiny_setup`, which tests/test_laurent_pins.py pins so CI checks prunelab against them without the
authors' code.

Run (a few minutes on two cores):
    PYTHONPATH=src python scripts/crosscheck/laurent.py --authors /path/to/loss-models-pruning \\
        --data-root data --seeds 1 --epochs 3
    PYTHONPATH=src python scripts/crosscheck/laurent.py --authors /path/to/loss-models-pruning --pin
"""

from __future__ import annotations

import copy
import hashlib
import json
import math
import sys
from dataclasses import replace
from pathlib import Path

import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import (  # noqa: E402
    after_pruning,
    authors_checkout,
    compare_masks,
    fashion_mnist,
    masked_copy,
    parser,
    print_table,
    seeds,
    trained,
)

from prunelab.data.tensors import load_dataset  # noqa: E402
from prunelab.models import build_model  # noqa: E402
from prunelab.pruning.base import resolve_hparams  # noqa: E402
from prunelab.pruning.curvature import FlatModel, ggn_diagonal, mean_gradient  # noqa: E402
from prunelab.pruning.multistep import ScoringDraws, run_method  # noqa: E402
from prunelab.training.masks import Mask, prunable_parameters  # noqa: E402

OURS = {"MP": "magnitude", "LM": "lm", "QM": "qm", "OBD": "obd"}  # the authors' name -> prunelab's method
MLP = {"name": "lenet_300_100", "activation": "tanh", "init": "kaiming_normal"}  # 784-300-100-10 tanh
LAURENT_TRAIN = {"lr": 0.01, "momentum": 0.9, "weight_decay": 5e-4, "schedule": {"name": "constant"}}
LAURENT_SPARSITY = 1 - 0.8**20  # 0.98847, their MLP's final sparsity


def load_authors(path: Path):
    """Their ``pruning`` module, with the device its gradient loops move batches to set to the CPU (their
    ``compute`` methods default to 'cuda' and ``get_mask`` does not pass one)."""
    authors_checkout(path, "pruning.py")
    import pruning

    for computer in (pruning.GradComputer, pruning.DiagonalGGNComputer):
        computer.compute.__defaults__ = ("cpu", math.inf)
    return pruning


def their_steps(sparsity: float, steps: int) -> list[float]:
    """The cumulative sparsities of the authors' ``--exp`` schedule from a dense net (their recurrence)."""
    rate = 1 - (1 - sparsity) ** (1 / steps)
    out, p = [], 0.0
    for _ in range(steps):
        p = p + (1 - p) * rate
        out.append(p)
    return out


class StepLoader:
    """What the authors' code iterates as its ``loader``: pass t over it yields step t's batches."""

    def __init__(self, draws: ScoringDraws):
        self.draws, self.passes = draws, 0

    def __iter__(self):
        self.passes += 1
        return iter(self.draws(self.passes))


def theirs(
    pruning, model: nn.Module, criterion: str, lam: float, sparsity: float, steps: int, draws: ScoringDraws
) -> Mask:
    """The authors' mask as a prunelab :class:`Mask` (their ``get_params`` order is our prunable order)."""
    loader = StepLoader(draws)
    masks = pruning.get_mask_iteratively(
        criterion, model, their_steps(sparsity, steps), loader=loader, n=draws.examples, reg=lam
    )
    if criterion != "MP" and loader.passes != steps:
        raise RuntimeError(
            f"{criterion}: the authors' code passed over the batches {loader.passes} times in {steps} steps"
        )
    params = prunable_parameters(model)
    if [tuple(p.shape) for p in params.values()] != [tuple(m.shape) for m in masks]:
        raise RuntimeError("the authors' prunable tensors are not prunelab's")
    return Mask({name: m.bool() for name, m in zip(params, masks)})


def ours(model: nn.Module, criterion: str, lam: float, sparsity: float, steps: int, draws: ScoringDraws) -> Mask:
    method = OURS[criterion]
    hparams = resolve_hparams(method, {} if criterion == "MP" else {"lambda": lam})
    return run_method(model, method, hparams, sparsity, steps=steps, batches=draws).mask


def curvature_gap(pruning, model: nn.Module, batches: list) -> dict:
    """Largest gap between the authors' and prunelab's mean gradient g and GGN diagonal h on ``batches`` (the
    dense net), relative to the largest entry of each."""
    g_theirs, h_theirs = pruning.DiagonalGGNComputer().compute(
        copy.deepcopy(model).eval(), batches, n=sum(len(y) for _, y in batches)
    )
    fm = FlatModel(model, list(prunable_parameters(model)))
    g, h = mean_gradient(fm, batches), ggn_diagonal(fm, batches)
    return {
        "g_rel_gap": float((_flat(g_theirs) - g).abs().max() / g.abs().max()),
        "h_rel_gap": float((_flat(h_theirs) - h).abs().max() / h.abs().max()),
    }


def _flat(tensors: list[torch.Tensor]) -> torch.Tensor:
    return torch.cat([t.detach().flatten().double() for t in tensors])


def digest(mask: Mask) -> str:
    """sha256 of the kept flags, tensor after tensor in prunable order, one byte each."""
    flat = torch.cat([m.flatten() for m in mask.values()]).to(torch.uint8)
    return hashlib.sha256(flat.numpy().tobytes()).hexdigest()


# -- the tiny setup whose authors' masks tests/test_laurent_pins.py pins --------------------------------------
PIN_CASES = [(c, lam, steps) for c in ("MP", "LM", "QM", "OBD") for lam in (0.0, 0.1) for steps in (1, 4)]
PIN_SPARSITY = 0.9


def tiny_setup() -> tuple[nn.Module, ScoringDraws, ScoringDraws]:
    """A float64 64-24-12-10 tanh MLP at its seeded Kaiming initialisation on the embedded 8×8 digits, and the
    fresh and fixed scoring draws (120 examples in batches of 40, seed 3): deterministic on any CPU."""
    data = load_dataset({"name": "digits", "size": 8, "channels": 1, "validation": 100})
    data = replace(data, **{k: getattr(data, k).double() for k in ("train_x", "val_x", "test_x")})
    model = (
        build_model(
            {"name": "mlp", "widths": [24, 12], "activation": "tanh", "init": "kaiming_normal"},
            data.input_shape,
            data.num_classes,
            seed=5,
        )
        .double()
        .eval()
    )
    return model, ScoringDraws(data, 120, 40, 3, "fresh"), ScoringDraws(data, 120, 40, 3, "fixed")


def pin(pruning) -> None:
    model, fresh, _ = tiny_setup()
    out = {
        f"{c} lambda={lam} T={steps}": digest(theirs(pruning, model, c, lam, PIN_SPARSITY, steps, fresh))
        for c, lam, steps in PIN_CASES
    }
    print(json.dumps(out, indent=1))


def main() -> None:
    p = parser(__doc__.split("\n")[0], "pruning.py")
    p.add_argument("--lambdas", default="0,0.01", help="comma-separated λ (their --reg)")
    p.add_argument("--steps", default="1,14", help="comma-separated T")
    p.add_argument("--sparsities", default=f"0.9,{LAURENT_SPARSITY}", help="comma-separated final sparsities")
    p.add_argument("--criteria", default="MP,LM,QM,OBD")
    p.add_argument("--examples", default=1000, type=int, help="scoring examples per step (theirs: --nex 1000)")
    p.add_argument("--batch-size", default=1000, type=int, help="1000 as their MLP runs; 100 as for CIFAR")
    p.add_argument(
        "--per-step", default="fresh", choices=("fresh", "fixed"), help="the batches both sides score each step on"
    )
    p.add_argument("--pin", action="store_true", help="print the authors' masks on the tiny pinned setup")
    args = p.parse_args()
    pruning = load_authors(args.authors)
    torch.set_num_threads(1)
    if args.pin:
        pin(pruning)
        return
    data = fashion_mnist(args.data_root)
    other = "fixed" if args.per_step == "fresh" else "fresh"
    rows = []
    for seed in seeds(args):
        model = trained(MLP, data, args.epochs, seed, LAURENT_TRAIN)
        dense = after_pruning(model, data)
        print(f"seed {seed}: dense test acc {dense['test_acc']:.2f}, train loss {dense['train_loss']:.4f}")
        draws = {kind: ScoringDraws(data, args.examples, args.batch_size, seed, kind) for kind in ("fresh", "fixed")}
        gaps = curvature_gap(pruning, model, draws["fresh"](1))
        print(
            f"seed {seed}: step-1 batches, authors vs prunelab: max |Δg|/max|g| {gaps['g_rel_gap']:.2e}, "
            f"max |Δh|/max|h| {gaps['h_rel_gap']:.2e}"
        )
        for sparsity in (float(s) for s in args.sparsities.split(",")):
            for steps in (int(t) for t in args.steps.split(",")):
                for criterion in args.criteria.split(","):
                    for lam in (float(v) for v in args.lambdas.split(",")):
                        a = theirs(pruning, model, criterion, lam, sparsity, steps, draws[args.per_step])
                        b = ours(model, criterion, lam, sparsity, steps, draws[args.per_step])
                        rows.append(row(criterion, lam, steps, sparsity, seed, a, b, data, model))
                        if steps > 1 and criterion != "MP":  # prunelab under the other choice, vs theirs
                            c = ours(model, criterion, lam, sparsity, steps, draws[other])
                            after = after_pruning(masked_copy(model, c), data)
                            rows[-1].update(
                                {
                                    f"J_{other}": compare_masks(c, a)[-1]["jaccard"],
                                    f"test_acc_{other}": after["test_acc"],
                                    f"train_loss_{other}": after["train_loss"],
                                }
                            )
                        print(
                            ", ".join(
                                f"{k} {v:.4f}" if isinstance(v, float) else f"{k} {v}" for k, v in rows[-1].items()
                            ),
                            flush=True,
                        )
    print_table(
        f"Laurent et al. vs prunelab, same per-step batches ({args.per_step}); "
        f"{args.examples} examples in batches of {args.batch_size}",
        rows,
    )
    identical = sum(r["J_total"] == 1.0 for r in rows)
    print(f"\nidentical masks: {identical}/{len(rows)}")


def row(criterion, lam, steps, sparsity, seed, a: Mask, b: Mask, data, model) -> dict:
    layers = compare_masks(b, a)
    theirs_after, ours_after = (after_pruning(masked_copy(model, m), data) for m in (a, b))
    out = {
        "crit": criterion,
        "lambda": lam,
        "T": steps,
        "s": sparsity,
        "seed": seed,
        "kept_theirs": layers[-1]["kept_theirs"],
        "kept_ours": layers[-1]["kept_ours"],
    }
    out.update({f"J_{r['layer']}": r["jaccard"] for r in layers})
    out.update(
        {
            "test_acc_theirs": theirs_after["test_acc"],
            "test_acc_ours": ours_after["test_acc"],
            "test_loss_theirs": theirs_after["test_loss"],
            "test_loss_ours": ours_after["test_loss"],
            "train_loss_theirs": theirs_after["train_loss"],
            "train_loss_ours": ours_after["train_loss"],
        }
    )
    return out


if __name__ == "__main__":
    main()
