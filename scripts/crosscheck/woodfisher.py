"""Cross-check of WoodFisher (Singh & Alistarh 2020) against prunelab's ``woodfisher`` method.

Authors' code: IST-DASLab/WoodFisher @ 207316307361 (docs/methods.md §0, S9), imported from ``--authors``:
``pruners/woodfisherblock.py:BlockwiseWoodburryFisherPruner.prune_to_level`` on prunelab's ``mlp`` 784-40-20-10
(their ``models/mlpnet.py:MlpNet`` with biases, ReLU), its Linear layers wrapped by their
``utils/masking_utils.py:get_wrapped_model``, with the options of ``scripts/sweep_mlpnet_oneshot.sh``
(``--fisher-damp 1e-5 --fisher-mini-bsz 1 --woodburry-joint-sparsify``, all of fc1/fc2/fc3) taken from their
``options.py:get_parser`` defaults. Their sweep keeps one Fisher block per layer (up to 31 360² entries);
on CPU both sides use blocks of ``--block-size`` entries instead (their ``--fisher-split-grads
--fittable-params B``, prunelab's ``block_size``), the same contiguous chunks of each layer's weights.

Their package cannot be imported as it is: ``utils/__init__.py`` imports ``utils/checkpoints.py``, which the
snapshot lacks, and ``tqdm``/``tensorboard``, which the environment lacks. The script registers ``utils`` and
``policies``/``pruners`` as bare packages and stubs only what the pruner never calls on this path
(``get_unwrapped_model``, the FLOP helpers, ``tqdm``, ``SummaryWriter``).

Both sides see the same trained net and the same N scoring examples (per-example gradients, so their order
does not matter); the script prints, per sparsity: Jaccard of the masks, kept counts, the largest difference
of the updated weights, and test accuracy/loss right after pruning for theirs and for prunelab's ``joint``
(its former default) and ``independent`` updates.

Run (about a minute per seed on two CPU cores):
    python scripts/crosscheck/woodfisher.py --authors /path/to/WoodFisher --data-root data
"""

from __future__ import annotations

import argparse
import copy
import hashlib
import importlib
import importlib.machinery
import sys
import types
from pathlib import Path

import torch
from common import (
    after_pruning,
    authors_checkout,
    compare_masks,
    fashion_mnist,
    mean_sd,
    parser,
    print_table,
    seeds,
    trained,
)
from torch import nn

from prunelab.pruning.multistep import run_method
from prunelab.training.masks import Mask


def import_authors(root) -> types.SimpleNamespace:
    """Their pruner, wrapper, MLP and option parser, with the missing pieces stubbed (see the docstring)."""

    def stub(name: str, path: str | None = None, **attrs) -> types.ModuleType:
        module = types.ModuleType(name)
        module.__spec__ = importlib.machinery.ModuleSpec(name, None, is_package=path is not None)
        module.__dict__.update(attrs)
        if path is not None:
            module.__path__ = [str(root / path)]
        sys.modules[name] = module
        return module

    stub("tqdm", tqdm=lambda it=None, *a, **k: it)
    stub("torch.utils.tensorboard", SummaryWriter=object)
    utils = stub("utils", "utils")
    for name in ("utils.utils", "utils.masking_utils"):  # what `from utils import …` in policies/pruners.py needs
        utils.__dict__.update({k: v for k, v in vars(importlib.import_module(name)).items() if not k.startswith("_")})
    stub("utils.checkpoints", get_unwrapped_model=lambda m: m)
    stub("utils.pruner_utils", pruner_after_parameter_optimization_functional=None)
    stub("utils.flop_utils", get_macs_dpf=None)
    stub("policies", "policies")
    stub("pruners", "pruners")
    importlib.import_module("policies.pruners")  # first: it imports every pruner module at its end
    return types.SimpleNamespace(
        pruner=importlib.import_module("pruners.woodfisherblock").BlockwiseWoodburryFisherPruner,
        wrap=utils.get_wrapped_model,
        options=importlib.import_module("options").get_parser,
    )


def their_options(authors, num_grads: int, damp: float, block_size: int) -> argparse.Namespace:
    """The sweep's options; the loss is their cross-entropy branch (``--disable-log-soft``), since prunelab's nets
    return logits (their MLPNet's log-softmax + NLL is the same loss)."""
    saved, sys.argv = (
        sys.argv,
        [
            "main.py",
            "--dset",
            "mnist",
            "--arch",
            "mlpnet",
            "--fisher-damp",
            str(damp),
            "--fisher-subsample-size",
            str(num_grads),
            "--fisher-mini-bsz",
            "1",
            "--woodburry-joint-sparsify",
            "--fisher-split-grads",
            "--fittable-params",
            str(block_size),
            "--disable-log-soft",
        ],
    )
    try:
        return authors.options()
    finally:
        sys.argv = saved


def theirs_prune(
    authors, net: nn.Module, x: torch.Tensor, y: torch.Tensor, sparsity: float, damp: float, block_size: int
) -> tuple[Mask, dict]:
    """Their pruner on a copy of ``net`` (its Linear layers wrapped by theirs); the mask and the weights the
    masked net then uses."""
    opts = their_options(authors, len(y), damp, block_size)
    theirs = authors.wrap(copy.deepcopy(net)).eval()
    names = [n for n, p in net.named_parameters() if p.dim() > 1]
    modules = [n.rsplit(".", 1)[0] for n in names]
    pruner = authors.pruner(
        theirs,
        opts,
        epochs=[0, 2, 2],
        weight_only=True,
        initial_sparsity=0.0,
        target_sparsity=sparsity,
        modules=modules,
        keep_pruned=False,
    )
    pruner.prune_to_level(sparsity, torch.utils.data.TensorDataset(x, y), list(range(len(y))), "cpu", 0, 0)
    layers = dict(theirs.named_modules())
    mask = Mask({n: layers[m].weight_mask.bool() for n, m in zip(names, modules)})
    weights = {n: (layers[m].weight * layers[m].weight_mask).detach() for n, m in zip(names, modules)}
    return mask, weights


def pin(authors) -> None:
    """Their mask and updated weights on tests/toy.py's float64 MLP (what tests/test_woodfisher_pins.py pins)."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tests"))
    from toy import mlp, toy_data

    net, data = mlp(widths=(6,), act="relu"), toy_data()
    mask, weights = theirs_prune(authors, net, data.train_x[:20], data.train_y[:20], 0.5, 1e-3, 8)
    print(
        "toy pin: kept",
        {n: int(m.sum()) for n, m in mask.items()},
        "sha256",
        hashlib.sha256(b"".join(m.numpy().tobytes() for m in mask.values())).hexdigest(),
    )
    for name, w in weights.items():
        print(f"  {name} = {w.flatten().tolist()}")


def pruned_net(net: nn.Module, weights: dict) -> nn.Module:
    """A copy of ``net`` carrying their pruned and updated weights."""
    out = copy.deepcopy(net)
    with torch.no_grad():
        params = dict(out.named_parameters())
        for name, w in weights.items():
            params[name].copy_(w)
    return out


def main() -> None:
    p = parser(__doc__.splitlines()[0], "pruners/woodfisherblock.py")
    p.add_argument("--num-grads", type=int, default=1000, help="N (their sweep: 8000)")
    p.add_argument("--block-size", type=int, default=128)
    p.add_argument("--damp", type=float, default=1e-5)
    p.add_argument("--sparsities", default="0.5,0.8,0.9")
    p.add_argument("--pin", action="store_true", help="only print their result on the toy net the test pins")
    args = p.parse_args()
    root = authors_checkout(args.authors, args.authors_file)
    authors = import_authors(root)
    if args.pin:
        return pin(authors)
    data = fashion_mnist(args.data_root)
    hp = {"num_grads": args.num_grads, "fisher_mini_bsz": 1, "block_size": args.block_size, "damp": args.damp}
    summary = []
    for seed in seeds(args):
        net = trained({"name": "mlp", "widths": [40, 20]}, data, args.epochs, seed)
        order = torch.randperm(len(data.train_y), generator=torch.Generator().manual_seed(seed))[: args.num_grads]
        x, y = data.train_x[order], data.train_y[order]
        for sparsity in [float(s) for s in args.sparsities.split(",")]:
            their_mask, their_w = theirs_prune(authors, net, x, y, sparsity, args.damp, args.block_size)
            row = {
                "seed": seed,
                "sparsity": sparsity,
                **{f"theirs_{k}": v for k, v in after_pruning(pruned_net(net, their_w), data).items()},
            }
            for update in ("independent", "joint"):
                out = run_method(net, "woodfisher", {**hp, "update": update}, sparsity, batches=[(x, y)])
                rows = compare_masks(dict(out.mask.items()), dict(their_mask.items()))
                if update == "independent" and seed == seeds(args)[0]:
                    print_table(f"masks, seed {seed}, sparsity {sparsity}: prunelab vs theirs", rows)
                params = dict(out.model.named_parameters())
                gap = max(float((params[n].detach() - their_w[n]).abs().max()) for n in their_w)
                stats = after_pruning(out.model.eval(), data)
                row.update(
                    {
                        f"{update}_jaccard": rows[-1]["jaccard"],
                        f"{update}_kept": rows[-1]["kept_ours"],
                        f"{update}_max_dw": gap,
                        f"{update}_test_acc": stats["test_acc"],
                        f"{update}_test_loss": stats["test_loss"],
                    }
                )
            row["theirs_kept"] = rows[-1]["kept_theirs"]
            summary.append(row)
            print_table(f"seed {seed}, sparsity {sparsity}: theirs vs prunelab right after pruning", [row])
    print_table("per seed and sparsity: theirs vs prunelab (independent, joint) right after pruning", summary)
    for sparsity in sorted({r["sparsity"] for r in summary}):
        rs = [r for r in summary if r["sparsity"] == sparsity]
        print(
            f"sparsity {sparsity}: test acc theirs {mean_sd([r['theirs_test_acc'] for r in rs])}, "
            f"independent {mean_sd([r['independent_test_acc'] for r in rs])}, "
            f"joint {mean_sd([r['joint_test_acc'] for r in rs])}"
        )


if __name__ == "__main__":
    main()
