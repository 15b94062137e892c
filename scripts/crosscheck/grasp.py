"""GraSP at initialisation: the authors' ``GraSP()`` against prunelab's ``grasp`` scorer on LeNet-300-100.

Authors: alecwangcq/GraSP @ f17d87a, ``pruner/GraSP.py`` (``GraSP``, ``GraSP_fetch_data``) and
``models/base/init_utils.py`` (``weights_init``, which ``main_prune_non_imagenet.py`` applies right before
GraSP). prunelab: ``src/prunelab/pruning/grasp.py`` through ``run_method`` (docs/methods.md §2.8).

Three comparisons, each over ``--seeds`` on real Fashion-MNIST:

1. **same inputs**: a net at prunelab's default init; their ``GraSP()`` is fed prunelab's class-balanced sample
   (a loader that yields exactly that batch) and their Xavier re-initialisation draws from the same generator
   as ours, so any difference is the algorithm's. Per-layer kept counts and Jaccard; also the Jaccard when our
   scores remove exactly as many entries as theirs did (their ``≤ threshold`` keeps one more than int(r·N)).
2. **init** (``weights_init`` vs PyTorch's default init): the mask's per-layer density, and test accuracy after
   pruning at init and ``--epochs`` of masked training: prunelab's default init + its mask; the authors'
   ``weights_init`` + the mask GraSP picks there; and the default init trained under the ``weights_init``
   mask (isolating the mask's share of the difference).
3. **num_iters**: their ``GraSP()`` with a shuffled training loader (their MNIST loader has no augmentation)
   at num_iters 1 against 2 and 10, beside two num_iters=1 draws with different loader seeds (sample noise).

Run (the init comparison trains 3 nets per seed; use --parts to pick comparisons):

    python scripts/crosscheck/grasp.py --authors /path/to/GraSP --data-root /path/with/FashionMNIST
"""

from __future__ import annotations

import contextlib
import math
import sys
from pathlib import Path

import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402

from prunelab.models import build_model  # noqa: E402
from prunelab.pruning.base import PruneContext  # noqa: E402
from prunelab.pruning.grasp import class_balanced_sample  # noqa: E402
from prunelab.pruning.grasp import score as grasp_score
from prunelab.pruning.multistep import run_method  # noqa: E402
from prunelab.training.masks import Mask, prunable_parameters  # noqa: E402
from prunelab.training.single_model import Trainer  # noqa: E402

MODEL = {"name": "lenet_300_100"}
HPARAMS = {"temperature": 200.0, "samples_per_class": 10, "reinit": True}


@contextlib.contextmanager
def xavier_from(generator: torch.Generator):
    """Their ``nn.init.xavier_normal`` drawing as prunelab's re-initialisation does (same generator, same
    float64 CPU draw), so both score the same re-initialised weights."""
    original = nn.init.xavier_normal

    def draw(w):
        std = math.sqrt(2.0 / (w.shape[0] + w.shape[1]))
        with torch.no_grad():
            w.copy_((torch.randn(w.shape, generator=generator, dtype=torch.float64) * std).to(w.dtype))
        return w

    nn.init.xavier_normal = draw
    try:
        yield
    finally:
        nn.init.xavier_normal = original


class Repeat:
    """A 'loader' that yields one fixed batch forever: their fetch loop stops once every class is full."""

    def __init__(self, x, y):
        self.x, self.y = x, y

    def __iter__(self):
        while True:
            yield self.x, self.y


def their_mask(grasp_fn, model: nn.Module, sparsity: float, loader, **kw) -> dict[str, torch.Tensor]:
    """Their keep-masks (keyed by module) renamed to prunelab's parameter names."""
    names = {id(m): f"{n}.weight" for n, m in model.named_modules() if isinstance(m, (nn.Conv2d, nn.Linear))}
    with contextlib.redirect_stdout(None):
        masks = grasp_fn(model, sparsity, loader, "cpu", num_classes=10, **kw)
    return {names[id(m)]: k.bool() for m, k in masks.items()}


def our_mask(model: nn.Module, data, sparsity: float, seed: int) -> dict[str, torch.Tensor]:
    out = run_method(model, "grasp", HPARAMS, sparsity, data=data, seed=seed, at_init=True)
    return dict(out.mask)


def same_count_jaccard(model, data, seed, theirs) -> float:
    """Our scores removing exactly as many entries as theirs did."""
    params = prunable_parameters(model)
    ctx = PruneContext(
        model=model,
        params=params,
        mask=Mask.ones_like(params),
        sparsity=0.0,
        scope="global",
        generator=torch.Generator().manual_seed(seed),
        data=data,
        at_init=True,
    )
    scores = grasp_score(ctx, **HPARAMS)
    flat = torch.cat([s.flatten() for s in scores.values()])
    removed = sum(int((~t).sum()) for t in theirs.values())
    keep = torch.ones_like(flat, dtype=torch.bool)
    keep[torch.sort(flat, stable=True).indices[:removed]] = False
    ours_flat = keep
    theirs_flat = torch.cat([theirs[n].flatten() for n in scores])
    return common.jaccard(ours_flat, theirs_flat)


def same_inputs(grasp_fn, data, seed: int, sparsity: float) -> list[dict]:
    model = build_model(MODEL, data.input_shape, data.num_classes, seed=seed)
    generator = torch.Generator().manual_seed(seed)
    x, y = class_balanced_sample(data, HPARAMS["samples_per_class"], generator)
    with xavier_from(generator):
        theirs = their_mask(grasp_fn, model, sparsity, Repeat(x, y), samples_per_class=HPARAMS["samples_per_class"])
    ours = our_mask(model, data, sparsity, seed)
    rows = common.compare_masks(ours, theirs)
    same = same_count_jaccard(model, data, seed, theirs)
    return [{**r, "jaccard_same_count": same if r["layer"] == "total" else ""} for r in rows]


def train_masked(model: nn.Module, mask: dict, data, epochs: int, seed: int) -> float:
    mask = Mask(mask)
    mask.apply_(prunable_parameters(model))
    Trainer(
        model,
        data,
        {**common.TRAIN, "epochs": epochs},
        data_seed=seed,
        label=f"grasp{seed}",
        mask=mask,
        log=lambda _: None,
    ).run()
    return common.after_pruning(model.eval(), data)["test_acc"]


def density(mask: dict) -> str:
    return " ".join(f"{float(m.float().mean()):.4f}" for m in mask.values())


def init_effect(weights_init, data, seed: int, sparsity: float, epochs: int) -> dict:
    default = build_model(MODEL, data.input_shape, data.num_classes, seed=seed)
    theirs_init = build_model(MODEL, data.input_shape, data.num_classes, seed=seed)
    torch.manual_seed(seed)
    theirs_init.apply(weights_init)
    mask_default = our_mask(default, data, sparsity, seed)
    mask_wi = our_mask(theirs_init, data, sparsity, seed)
    pruned = {
        "default+own": common.after_pruning(common.masked_copy(default, Mask(mask_default)), data),
        "weights_init+own": common.after_pruning(common.masked_copy(theirs_init, Mask(mask_wi)), data),
    }
    flat = lambda m: torch.cat([t.flatten() for t in m.values()])  # noqa: E731
    return {
        "seed": seed,
        "density_default": density(mask_default),
        "density_weights_init": density(mask_wi),
        "jaccard": common.jaccard(flat(mask_default), flat(mask_wi)),
        "acc0_default": pruned["default+own"]["test_acc"],
        "acc0_wi": pruned["weights_init+own"]["test_acc"],
        "acc_default": train_masked(default, mask_default, data, epochs, seed),
        "acc_weights_init": train_masked(theirs_init, mask_wi, data, epochs, seed),
        "acc_default_wi_mask": train_masked(
            build_model(MODEL, data.input_shape, data.num_classes, seed=seed), mask_wi, data, epochs, seed
        ),
    }


def num_iters_effect(grasp_fn, data, seed: int, sparsity: float) -> list[dict]:
    dataset = torch.utils.data.TensorDataset(data.train_x, data.train_y)

    def mask(iters: int, loader_seed: int) -> dict:
        model = build_model(MODEL, data.input_shape, data.num_classes, seed=seed)
        loader = torch.utils.data.DataLoader(
            dataset, batch_size=128, shuffle=True, generator=torch.Generator().manual_seed(loader_seed)
        )
        torch.manual_seed(seed)  # their Xavier re-initialisation: the same draw in every call
        return their_mask(
            grasp_fn, model, sparsity, loader, samples_per_class=HPARAMS["samples_per_class"], num_iters=iters
        )

    base = mask(1, 1000 + seed)
    flat = lambda m: torch.cat([t.flatten() for t in m.values()])  # noqa: E731
    rows = []
    for label, other in (
        ("num_iters=1, other sample", mask(1, 2000 + seed)),
        ("num_iters=2", mask(2, 1000 + seed)),
        ("num_iters=10", mask(10, 1000 + seed)),
    ):
        row = {"seed": seed, "vs num_iters=1": label, "jaccard": common.jaccard(flat(base), flat(other))}
        row.update({f"J_{n.split('.')[1]}": common.jaccard(base[n], other[n]) for n in base})
        rows.append(row)
    return rows


def main() -> None:
    p = common.parser(__doc__.splitlines()[0], "pruner/GraSP.py")
    p.add_argument("--sparsity", default=0.9, type=float, help="GraSP's ratio (fraction of weights removed)")
    p.add_argument("--parts", default="same,init,iters", help="which comparisons to run (same, init, iters)")
    args = p.parse_args()
    common.authors_checkout(args.authors, args.authors_file, stub_packages=("models", "models.base"))
    from models.base.init_utils import weights_init
    from pruner.GraSP import GraSP

    data = common.fashion_mnist(args.data_root)
    seeds, parts = common.seeds(args), args.parts.split(",")
    if "same" in parts:
        for seed in seeds:
            common.print_table(
                f"same inputs, seed {seed}, sparsity {args.sparsity}", same_inputs(GraSP, data, seed, args.sparsity)
            )
    if "init" in parts:
        rows = [init_effect(weights_init, data, s, args.sparsity, args.epochs) for s in seeds]
        common.print_table(
            f"init: prunelab default vs authors' weights_init, sparsity {args.sparsity}, {args.epochs} epochs", rows
        )
        for key in ("acc0_default", "acc0_wi", "acc_default", "acc_weights_init", "acc_default_wi_mask"):
            print(f"  {key}: {common.mean_sd([r[key] for r in rows])}")
    if "iters" in parts:
        rows = [r for s in seeds for r in num_iters_effect(GraSP, data, s, args.sparsity)]
        common.print_table(f"num_iters (their GraSP, shuffled loader, batch 128), sparsity {args.sparsity}", rows)


if __name__ == "__main__":
    main()
