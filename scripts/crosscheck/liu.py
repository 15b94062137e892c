"""Cross-check of Liu et al.'s pruning ("Rethinking the Value of Network Pruning") against prunelab.

Authors' code: Eric-mingjie/rethinking-network-pruning @ 2ac473d70a09 (docs/methods.md §0, S2), run from the
checkout given as ``--authors``:

- ``cifar/l1-norm-pruning/vggprune.py`` (VGG-16-A) and ``res56prune.py`` (ResNet-56-A/B): executed as scripts
  with a controlled ``sys.argv`` on a checkpoint holding prunelab's weights; their ``cfg_mask`` (which filters
  each conv keeps) is read from the script's globals and compared with prunelab's ``l1_filter`` /
  ``l1_blocks`` masks (filters kept per conv, Jaccard of the kept filter sets). Their pruned (compact) model is
  also compared with their dense model under prunelab's mask: the largest logit difference on one batch.
- ``cifar/l1-norm-pruning/compute_flops.py:print_model_param_flops`` and the epoch rule of ``main_B.py``
  (``int(160 · F_dense / F_small)``, LR ×0.1 at ``int(0.5·E_B)`` and ``int(0.75·E_B)``) against prunelab's
  ``metrics/flops.py:count`` and ``branch_types/catalog/scratch_b.py:stretched`` on the same pruned nets.
- ``cifar/weight-level/cifar_prune.py:main`` (one magnitude threshold over all conv weights): imported with a
  controlled ``sys.argv``, its model factory pointed at prunelab's net and its ``test`` replaced by a no-op
  (it indexes ``loss.data[0]``, which modern torch refuses); the masks it saves against prunelab's global
  ``magnitude`` with the linear weights excluded. Its Scratch-B counter ``count_flops.py:
  count_model_param_flops`` on the pruned vs the dense net, with ``main_B.py``'s epoch rule, against prunelab's.
  ``cifar_B.py`` itself cannot be imported (line 273 passes ``async=True``, a syntax error since Python 3.7);
  read, it counts the FLOPs of two freshly built dense nets (lines 184-186) before loading the pruned
  checkpoint, and line 189 names an undefined ``schedule``: what the committed file would run is not a budget.

CIFAR cannot be downloaded here and every compared quantity is data-free, so the nets are prunelab's models at
their seeded initialisation (one per seed) and the authors' test loaders get a small random stand-in dataset.

Run (a few minutes on two CPU cores):
    python scripts/crosscheck/liu.py --authors /path/to/rethinking-network-pruning --seeds 1,2,3
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib
import io
import math
import runpy
import sys
import tempfile
import types
from pathlib import Path

import torch
import torchvision
from common import authors_checkout, compare_masks, parser, print_table, seeds
from torch import nn

from prunelab.branch_types.catalog.scratch_b import stretched
from prunelab.metrics.flops import count
from prunelab.models import build_model
from prunelab.pruning.multistep import run_method

SHAPE = (3, 32, 32)
LIU_TRAIN = {"epochs": 160, "schedule": {"name": "step", "milestones": [80, 120], "gamma": 0.1}}
VGG16_A = {"layers": [0, 7, 8, 9, 10, 11, 12]}
RESNET56 = {
    "A": {"stage_ratios": [0.1, 0.1, 0.1], "skip": [16, 20, 38, 54]},
    "B": {"stage_ratios": [0.6, 0.3, 0.1], "skip": [16, 18, 20, 34, 38, 54]},
}
PUBLISHED_FACTOR = {"resnet56-A": 0.1156411502, "resnet56-B": 0.3791088785}  # docs/methods.md §4.1 [V:S4]


class RandomCIFAR(torch.utils.data.Dataset):
    """Stands in for torchvision's CIFAR10 in the authors' scripts: 64 seeded random images (already tensors)."""

    def __init__(self, *args, **kwargs):
        g = torch.Generator().manual_seed(0)
        self.x = torch.randn(64, *SHAPE, generator=g)
        self.y = torch.randint(0, 10, (64,), generator=g)

    def __len__(self):
        return len(self.x)

    def __getitem__(self, i):
        return self.x[i], int(self.y[i])


@contextlib.contextmanager
def authors_run(folder: Path, argv: list[str]):
    """Their folder first on sys.path (their ``models``/``utils`` packages fresh), ``sys.argv`` set, CIFAR and
    ``.cuda()`` stubbed, their prints captured; everything restored afterwards."""
    saved_argv, saved_path, saved_cifar = sys.argv, list(sys.path), torchvision.datasets.CIFAR10
    saved_cuda = (nn.Module.cuda, torch.Tensor.cuda)
    for name in [
        m
        for m in sys.modules
        if m.split(".")[0] in ("models", "utils", "progress", "compute_flops", "count_flops", "cifar_prune")
    ]:
        del sys.modules[name]
    sys.argv, sys.path = argv, [str(folder), *sys.path]
    torchvision.datasets.CIFAR10 = RandomCIFAR
    nn.Module.cuda = lambda self, *a, **k: self
    torch.Tensor.cuda = lambda self, *a, **k: self
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            yield
    finally:
        sys.argv, sys.path, torchvision.datasets.CIFAR10 = saved_argv, saved_path, saved_cifar
        nn.Module.cuda, torch.Tensor.cuda = saved_cuda


def copy_into(ours: nn.Module, theirs: nn.Module) -> nn.Module:
    """Load prunelab's state into the authors' model of the same layout (entries matched in order)."""
    src, dst = ours.state_dict(), theirs.state_dict()
    if [v.shape for v in src.values()] != [v.shape for v in dst.values()]:
        raise SystemExit("liu.py: prunelab's and the authors' models differ in layout")
    theirs.load_state_dict(dict(zip(dst, src.values())))
    return theirs


def digest(masks: dict[str, torch.Tensor]) -> str:
    """sha256 of the bool masks' bytes in order (what tests/test_liu_pins.py pins)."""
    return hashlib.sha256(b"".join(m.bool().flatten().numpy().tobytes() for m in masks.values())).hexdigest()


def kept_filters(mask, names: list[str]) -> dict[str, torch.Tensor]:
    """Per conv, which filters (output rows) prunelab's mask keeps."""
    return {n: mask[n].reshape(mask[n].shape[0], -1).any(1) for n in names}


def masked_logits_gap(dense: nn.Module, compact: nn.Module, ours, names: list[str]) -> float:
    """max |logit| difference between their compact model and their dense model under prunelab's mask
    (``dense`` is masked in place)."""
    x = RandomCIFAR().x[:16]
    params = dict(dense.named_parameters())
    with torch.no_grad():
        for ours_name, their_name in zip(ours, names):
            params[their_name].mul_(ours[ours_name].to(params[their_name].dtype))
        return float((dense.eval()(x) - compact.eval()(x)).abs().max())


def l1_structured(root: Path, seed: int, arch: str, version: str | None) -> dict:
    """One net: their vggprune/res56prune masks vs prunelab's, and both Scratch-B budgets."""
    folder = root / "cifar" / "l1-norm-pruning"
    if arch == "vgg16":
        ours_model = build_model({"name": "vgg16", "hidden": [512]}, SHAPE, 10, seed=seed)
        outcome = run_method(ours_model, "l1_filter", VGG16_A, 0.5)
        script, extra = "vggprune.py", ["--depth", "16"]
    else:
        ours_model = build_model({"name": "resnet56"}, SHAPE, 10, seed=seed)
        outcome = run_method(ours_model, "l1_blocks", RESNET56[version], None)
        script, extra = "res56prune.py", ["--depth", "56", "-v", version]
    with (
        tempfile.TemporaryDirectory() as tmp,
        authors_run(folder, [script, "--model", f"{tmp}/dense.pth.tar", "--save", tmp, "--no-cuda", *extra]),
    ):
        models = importlib.import_module("models")
        dense = (
            models.vgg(dataset="cifar10", depth=16) if arch == "vgg16" else models.resnet(depth=56, dataset="cifar10")
        )
        copy_into(ours_model, dense)
        torch.save({"epoch": 0, "best_prec1": 0.0, "state_dict": dense.state_dict()}, f"{tmp}/dense.pth.tar")
        g = runpy.run_path(str(folder / script), run_name="__main__")
        flops = importlib.import_module("compute_flops").print_model_param_flops
        ref = models.vgg(dataset="cifar10", depth=16) if arch == "vgg16" else models.resnet(depth=56, dataset="cifar10")
        their_ratio = flops(ref, 32) / flops(g["newmodel"], 32)
    # which filters: theirs per conv (VGG: all 13; ResNet: each block's conv1), ours from the mask's rows
    convs = [n for n, p in ours_model.named_parameters() if p.dim() == 4]
    their_names = [n for n, p in dense.named_parameters() if p.dim() > 1]
    pruned_convs = convs if arch == "vgg16" else [n for n in convs if n.endswith("conv1.weight")]
    theirs = dict(zip(pruned_convs, (m.bool() for m in g["cfg_mask"])))
    rows = compare_masks(kept_filters(outcome.mask, pruned_convs), theirs)
    gap = masked_logits_gap(dense, g["newmodel"], outcome.mask, their_names)
    ours_train, notes = stretched(
        LIU_TRAIN, count(ours_model, SHAPE)["ops"], count(ours_model, SHAPE, outcome.mask)["ops"]
    )
    their_epochs = int(160 * their_ratio)
    budget = {
        "ratio_theirs": their_ratio,
        "epochs_theirs": their_epochs,
        "milestones_theirs": [int(their_epochs * 0.5), int(their_epochs * 0.75)],
        "ratio_ours": notes["flops_ratio"],
        "epochs_ours": ours_train["epochs"],
        "milestones_ours": ours_train["schedule"]["milestones"],
    }
    return {"rows": rows, "gap": gap, "budget": budget, "digest": digest(theirs)}


def weight_level(root: Path, seed: int, arch: str, sparsity: float) -> dict:
    """Their cifar_prune.main (conv weights, one threshold) vs prunelab's global magnitude, and both budgets."""
    folder = root / "cifar" / "weight-level"
    ours_model = build_model({"name": arch}, SHAPE, 10, seed=seed)
    linear = [n for n, m in ours_model.named_modules() if isinstance(m, nn.Linear)]
    outcome = run_method(ours_model, "magnitude", {}, sparsity, scope="global", exclude=[f"{n}.weight" for n in linear])
    net = build_model({"name": arch}, SHAPE, 10, seed=seed)
    with tempfile.TemporaryDirectory() as tmp:
        with authors_run(
            folder, ["cifar_prune.py", "--arch", "prunelab_net", "--percent", str(sparsity), "--save_dir", tmp]
        ):
            _stub_progress()
            importlib.import_module("models.cifar").prunelab_net = lambda **_: net
            prune_script = importlib.import_module("cifar_prune")
            prune_script.test = lambda *a, **k: (0.0, 0.0)
            prune_script.main()
            state = torch.load(f"{tmp}/pruned.pth.tar")["state_dict"]
            count_flops = importlib.import_module("count_flops").count_model_param_flops
            dense_model = build_model({"name": arch}, SHAPE, 10, seed=seed)
            their_ratio = float(count_flops(dense_model, 32) / count_flops(net, 32))
    convs = [n for n, p in ours_model.named_parameters() if p.dim() == 4]
    theirs = {n: state[f"module.{n}"] != 0 for n in convs}
    rows = compare_masks({n: outcome.mask[n] for n in convs}, theirs)
    rows[-1]["sha256_theirs"] = digest(theirs)
    ours_train, notes = stretched(
        LIU_TRAIN, count(ours_model, SHAPE)["ops"], count(ours_model, SHAPE, outcome.mask)["ops"]
    )
    their_epochs = int(160 * their_ratio)
    return {
        "rows": rows,
        "budget": {
            "ratio_theirs": their_ratio,
            "epochs_theirs": their_epochs,
            "ratio_ours": notes["flops_ratio"],
            "epochs_ours": ours_train["epochs"],
        },
    }


def _stub_progress() -> None:
    """Their progress bar is a git submodule absent from the snapshot; only test() uses it, and it is replaced."""
    bar = types.ModuleType("progress.bar")
    bar.Bar = object
    sys.modules["progress"], sys.modules["progress.bar"] = types.ModuleType("progress"), bar


def main() -> None:
    args = parser(__doc__.splitlines()[0], "cifar/l1-norm-pruning/res56prune.py").parse_args()
    root = authors_checkout(args.authors, args.authors_file)
    budgets = []
    for seed in seeds(args):
        for arch, version in (("vgg16", None), ("resnet56", "A"), ("resnet56", "B")):
            label = arch if version is None else f"{arch}-{version}"
            out = l1_structured(root, seed, arch, version)
            total = out["rows"][-1]
            print_table(
                f"L1-filter {label}, seed {seed}: filters kept per conv (their script vs prunelab); "
                f"max |logit gap| their compact vs their dense ⊙ our mask = {out['gap']:.2e}; "
                f"sha256 of theirs {out['digest']}",
                out["rows"] if seed == seeds(args)[0] else [total],
            )
            factor = PUBLISHED_FACTOR.get(label)
            published = "" if factor is None else f"{1 + factor:.4f} -> {math.floor(160 * (1 + factor))}"
            budgets.append({"net": label, "seed": seed, **out["budget"], "published": published})
        for arch in ("resnet56", "vgg19"):
            for sparsity in (0.3, 0.8):
                out = weight_level(root, seed, arch, sparsity)
                print_table(
                    f"weight-level {arch} at {sparsity}, seed {seed}: conv weights kept (their cifar_prune "
                    f"vs prunelab global magnitude)",
                    [out["rows"][-1]],
                )
                budgets.append({"net": f"{arch} wl {sparsity}", "seed": seed, **out["budget"]})
    print_table("Scratch-B budget (E = 160): FLOPs ratio and epochs, their counter and rule vs prunelab's", budgets)
    print("\nratios to 10 digits (theirs, ours):")
    for b in budgets:
        print(f"  {b['net']} seed {b['seed']}: {b['ratio_theirs']:.10f} {b['ratio_ours']:.10f}")


if __name__ == "__main__":
    main()
