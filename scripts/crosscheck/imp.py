"""Cross-check the pruning step of iterative magnitude pruning (IMP) against open_lth's, level by level.

Reference: facebookresearch/open_lth @ 2ce732fe48ab (``--authors``), ``pruning/sparse_global.py:Strategy.prune``
(prune ⌈fraction · remaining⌉ by a threshold on |θ| among the weights the current mask keeps, every tensor
of ``prunable_layer_names`` minus ``pruning_layers_to_ignore``) and ``pruning/mask.py:Mask``. The defaults
being compared are those of ``models/{mnist_lenet,cifar_vgg}.py:default_hparams`` (``fc.weight`` ignored) and
``models/cifar_resnet.py:default_hparams`` (nothing ignored), both with ``pruning_fraction=0.2``.

open_lth's ``models/base.py`` cannot be imported under today's PyTorch (its ``DistributedDataParallel``
class has no consistent MRO), and ``sparse_global`` uses it only as a type annotation; the script registers a
stand-in for that module and passes prunelab's net with open_lth's definition of the prunable tensors
(``models/base.py:Model.prunable_layer_names``: the weight of every Conv2d and Linear), checked to be
prunelab's set. Everything that chooses the mask is open_lth's code.

To isolate the pruning step, every level prunes the *same* trained weights (no retraining between levels):
open_lth's ``Strategy.prune`` with the previous level's mask, and prunelab's ``run_method('magnitude')`` to the
cumulative sparsity 1 − (1 − p)^L that ``plan.py`` plans for an ``iterative: {rate, levels}`` chain, with
``previous`` = its own previous mask and ``exclude`` = open_lth's ignored tensors. Per level it prints the kept
counts and Jaccard index (over all conv/linear weights; excluded tensors count as kept, as open_lth's mask
keeps them) and the accuracy right after pruning of both masks; per layer at the last level.

Run (a few minutes on a CPU):

    PYTHONPATH=src python scripts/crosscheck/imp.py --authors /path/to/open_lth --data-root /path/with/FashionMNIST

``--pin`` prints the open_lth masks that tests/test_imp_pinned.py pins (no data needed).
"""

from __future__ import annotations

import importlib.util
import json
import sys
import types
from pathlib import Path

import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402

from prunelab.pruning.multistep import run_method  # noqa: E402
from prunelab.training.masks import Mask, prunable_parameters  # noqa: E402


def _import_open_lth(path: Path):
    """open_lth's sparse_global strategy and its hyperparameters (``models.base`` stood in, see above)."""
    common.authors_checkout(path, "pruning/sparse_global.py")
    import models

    stand_in = types.ModuleType("models.base")
    stand_in.Model = nn.Module
    sys.modules["models.base"] = models.base = stand_in
    from pruning import sparse_global

    return sparse_global


class _AsOpenLTH:
    """What ``Strategy.prune`` reads of a model: ``prunable_layer_names`` and ``state_dict()``."""

    def __init__(self, model: nn.Module):
        self.model = model
        self.prunable_layer_names = [
            name + ".weight" for name, m in model.named_modules() if isinstance(m, (nn.Conv2d, nn.Linear))
        ]
        if self.prunable_layer_names != list(prunable_parameters(model)):
            raise SystemExit(
                f"open_lth's prunable tensors {self.prunable_layer_names} differ from prunelab's "
                f"{list(prunable_parameters(model))}"
            )

    def state_dict(self):
        return self.model.state_dict()


def open_lth_levels(model, levels, fraction, ignore, sparse_global) -> list[dict[str, torch.Tensor]]:
    hp = sparse_global.PruningHparams(
        pruning_strategy="sparse_global", pruning_fraction=fraction, pruning_layers_to_ignore=",".join(ignore) or None
    )
    adapter, mask, out = _AsOpenLTH(model), None, []
    for _ in range(levels):
        mask = sparse_global.Strategy.prune(hp, adapter, mask)
        out.append({k: v.bool().clone() for k, v in mask.items()})
    return out


def prunelab_levels(model, levels, fraction, ignore) -> list[dict[str, torch.Tensor]]:
    names = list(prunable_parameters(model))
    previous, out = None, []
    for level in range(1, levels + 1):
        outcome = run_method(model, "magnitude", {}, 1.0 - (1.0 - fraction) ** level, previous=previous, exclude=ignore)
        previous = outcome.mask
        full = dict(previous.items())
        out.append({n: full.get(n, torch.ones_like(model.get_parameter(n), dtype=torch.bool)) for n in names})
    return out


def pin(sparse_global) -> None:
    """Print the pins of tests/test_imp_pinned.py: open_lth's masks per level on the net that test builds."""
    path = Path(__file__).resolve().parents[2] / "tests" / "test_imp_pinned.py"
    spec = importlib.util.spec_from_file_location("test_imp_pinned", path)
    pinned = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(pinned)
    model = pinned.case()
    print("PINNED = {")
    for name, ignore in pinned.IGNORE.items():
        levels = open_lth_levels(model, pinned.LEVELS, pinned.FRACTION, ignore, sparse_global)
        print(f"    {name!r}: [")
        for mask in levels:
            print(f"        ({sum(int(m.sum()) for m in mask.values())}, {pinned.digest(mask)!r}),")
        print("    ],")
    print("}")


def main() -> None:
    p = common.parser(__doc__.split("\n")[0], "pruning/sparse_global.py")
    p.add_argument("--levels", type=int, default=5)
    p.add_argument("--fraction", type=float, default=0.2, help="open_lth's pruning_fraction (prunelab's rate)")
    p.add_argument("--model", default='{"name": "lenet_300_100"}', help="prunelab model spec (JSON)")
    p.add_argument("--pin", action="store_true", help="print the pins of tests/test_imp_pinned.py and stop")
    args = p.parse_args()
    sparse_global = _import_open_lth(args.authors)
    if args.pin:
        pin(sparse_global)
        return
    model_spec = json.loads(args.model)
    data = common.fashion_mnist(args.data_root)
    summary = []
    for seed in common.seeds(args):
        model = common.trained(model_spec, data, args.epochs, seed)
        names = list(prunable_parameters(model))
        cases = {
            "output layer ignored (open_lth LeNet/VGG default)": [names[-1]],
            "nothing ignored (open_lth ResNet-20 default)": [],
        }
        for case, ignore in cases.items():
            theirs = open_lth_levels(model, args.levels, args.fraction, ignore, sparse_global)
            mine = prunelab_levels(model, args.levels, args.fraction, ignore)
            rows = []
            for level, (a, b) in enumerate(zip(mine, theirs), start=1):
                total = common.compare_masks(a, b)[-1]
                acc_a = common.after_pruning(common.masked_copy(model, Mask(a)), data)
                acc_b = common.after_pruning(common.masked_copy(model, Mask(b)), data)
                rows.append(
                    {
                        "level": level,
                        "kept_ours": total["kept_ours"],
                        "kept_open_lth": total["kept_theirs"],
                        "diff": total["kept_ours"] - total["kept_theirs"],
                        "jaccard": total["jaccard"],
                        "acc_ours": acc_a["test_acc"],
                        "acc_open_lth": acc_b["test_acc"],
                        "loss_ours": acc_a["test_loss"],
                        "loss_open_lth": acc_b["test_loss"],
                    }
                )
                summary.append(
                    {
                        "case": case,
                        "level": level,
                        "seed": seed,
                        "jaccard": total["jaccard"],
                        "diff": float(rows[-1]["diff"]),
                        "acc_ours": acc_a["test_acc"],
                        "acc_open_lth": acc_b["test_acc"],
                    }
                )
            common.print_table(f"seed {seed}, {case}: per level (same trained weights at every level)", rows)
            common.print_table(
                f"seed {seed}, {case}: per layer at level {args.levels}", common.compare_masks(mine[-1], theirs[-1])
            )
    print("\nmean ± sd over seeds")
    for case in dict.fromkeys(r["case"] for r in summary):
        for level in range(1, args.levels + 1):
            rs = [r for r in summary if r["case"] == case and r["level"] == level]
            jaccards = [r["jaccard"] for r in rs]
            print(
                f"  {case[:22]:22s} L{level}: jaccard {min(jaccards):.4f}–{max(jaccards):.4f}, "
                + ", ".join(f"{c} {common.mean_sd([r[c] for r in rs])}" for c in ("diff", "acc_ours", "acc_open_lth"))
            )


if __name__ == "__main__":
    main()
