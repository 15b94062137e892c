"""Cross-check SiPP (det, rand, hybrid) and global weight thresholding (WT) against torchprune.

Compares, on the same trained LeNet-300-100 (Fashion-MNIST, prunelab's training loop, one net per seed), the
same set S and the same target kept count:

- torchprune's ``SiPPNet``, ``SiPPNetRand``, ``SiPPNetHybrid`` (src/torchprune/torchprune/method/sipp/sipp_net.py)
  and ``ThresNet`` (method/thres_weight/thres_weight_net.py), driven as their evaluator drives them:
  ``compress(keep_ratio)`` of ``CompressedNet`` (method/base/base_net.py: the keep-ratio search around
  ``_compress_once``, which ends in ``_propagate_compression``), sensitivities initialised once per net and
  draw and reused across the keep ratios, S served in batches of 4;
- prunelab's ``sipp_det``, ``sipp_rand``, ``sipp_hybrid`` and ``magnitude`` through
  :func:`prunelab.pruning.multistep.run_method`, with the propagation step (``propagate: true``; SiPP's default)
  and without it.

torchprune's keep ratio counts every parameter, biases included; it is set so that its nominal weight budget is
prunelab's target (N − ⌊sN+½⌋ prunable weights). S: the points prunelab draws with the pruning seed
(:func:`prunelab.pruning.sipp.sensitivity.draw_sample_set`), handed to torchprune as its loader of S. Their
"without propagation" column replaces ``_propagate_compression`` by a no-op (det, hybrid, WT), which isolates
the algorithms from that step. sipp_rand and sipp_hybrid draw ``--draws`` times per net on each side (pruning
seeds 100·net+d; torchprune's sampling uses torch's global generator, seeded with the same number); a Welch t
test compares the accuracies of ours-with-propagation and theirs.

Printed: per layer and in total, kept counts and the Jaccard index of the masks (mean over nets and draws);
per method and sparsity, test accuracy and loss right after pruning, kept weights, zeroed biases.

Measured against lucaslie/torchprune @ 14b392c. Needs cvxpy and scipy (torchprune's imports). Run:

    PYTHONPATH=src python scripts/crosscheck/sipp.py --authors /path/to/torchprune --data-root data
"""

from __future__ import annotations

import copy
import sys
from pathlib import Path

import numpy as np
import torch
from scipy import stats

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402

from prunelab.pruning.multistep import run_method  # noqa: E402
from prunelab.pruning.select import prune_count  # noqa: E402
from prunelab.pruning.sipp.sensitivity import draw_sample_set, layer_shapes, prunable_modules, sample_set_size  # noqa: E402
from prunelab.training.masks import Mask, prunable_parameters  # noqa: E402

PACKAGE = Path("src/torchprune")
THEIRS = {"sipp_det": "SiPPNet", "sipp_rand": "SiPPNetRand", "sipp_hybrid": "SiPPNetHybrid", "magnitude": "ThresNet"}
SPARSITIES = (0.9, 0.95)
MODEL = {"name": "lenet_300_100"}


def their_classes(root: Path) -> dict[str, type]:
    """torchprune's four classes, imported from the checkout without its top-level ``__init__``."""
    np.Inf = np.inf  # torchprune @ 14b392c still spells it the NumPy 1 way
    common.authors_checkout(
        root / PACKAGE,
        "torchprune/method/base/base_net.py",
        stub_packages=("torchprune", "torchprune.util", "torchprune.method"),
    )
    from torchprune.method.sipp import SiPPNet, SiPPNetHybrid, SiPPNetRand
    from torchprune.method.thres_weight import ThresNet
    from torchprune.util.net import NetHandle

    classes = {"sipp_det": SiPPNet, "sipp_rand": SiPPNetRand, "sipp_hybrid": SiPPNetHybrid, "magnitude": ThresNet}
    return {"handle": NetHandle, **classes}


def the_set_s(model: torch.nn.Module, data, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The S prunelab's first pruning step draws with pruning seed ``seed`` (SiPP's size rule, C = 3, δ = 1e-16)."""
    names = list(prunable_parameters(model))
    shapes = layer_shapes(model, prunable_modules(model, names), data.input_shape)
    size = sample_set_size([s.outputs for s in shapes.values()], 3.0, 1e-16)
    return draw_sample_set(data, size, torch.Generator().manual_seed(seed))


def theirs(
    classes: dict, method: str, model: torch.nn.Module, points, draw_seed: int, propagate: bool, data
) -> dict[float, dict]:
    """torchprune's compression at each sparsity: masks, kept weights, zeroed biases, the pruned net."""
    cls = classes[method]
    if not propagate:
        cls = type(cls.__name__ + "NoPropagation", (cls,), {"_propagate_compression": lambda self: None})
    handle = classes["handle"](copy.deepcopy(model)).eval()
    with torch.no_grad():
        handle(data.test_x[:8])  # caches the etas, as their data loader does
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(*points), batch_size=4, shuffle=False)
    net = cls(handle, loader, torch.nn.CrossEntropyLoss())
    names = list(prunable_parameters(model))
    weights = sum(prunable_parameters(model)[n].numel() for n in names)
    total = handle.size()
    out = {}
    torch.manual_seed(draw_seed)
    for i, sparsity in enumerate(SPARSITIES):
        target = weights - prune_count(sparsity, weights)
        net.compress((target + total - weights) / total, from_original=True, initialize=i == 0)
        pruned = copy.deepcopy(net.compressed_net.torchnet).eval()
        layers = net.compressed_net.compressible_layers
        mask = Mask({n: (layer.weight.detach() != 0).cpu() for n, layer in zip(names, layers)})
        biases = sum(
            int((layer.bias.detach() == 0).sum()) - int((orig.bias.detach() == 0).sum())
            for layer, orig in zip(layers, handle.compressible_layers)
        )
        out[sparsity] = {"mask": mask, "model": pruned, "biases_zeroed": biases, "target": target}
    return out


def ours(method: str, model: torch.nn.Module, data, seed: int, propagate: bool) -> dict[float, dict]:
    out = {}
    for sparsity in SPARSITIES:
        outcome = run_method(model, method, {"propagate": propagate}, sparsity, data=data, seed=seed)
        before = {n: p for n, p in model.named_parameters()}
        biases = sum(
            int((p.detach() == 0).sum()) - int((before[n].detach() == 0).sum())
            for n, p in outcome.model.named_parameters()
            if n.endswith("bias")
        )
        out[sparsity] = {"mask": outcome.mask, "model": outcome.model.eval(), "biases_zeroed": biases}
    return out


def main() -> None:
    p = common.parser(__doc__.splitlines()[0], str(PACKAGE / "torchprune/method/base/base_net.py"))
    p.add_argument("--draws", default=2, type=int, help="draws per net of sipp_rand and sipp_hybrid, each side")
    p.add_argument("--methods", default=",".join(THEIRS), help="comma-separated subset of " + ",".join(THEIRS))
    p.add_argument(
        "--propagated-only",
        action="store_true",
        help="skip the columns without propagation (ours-prop, theirs-prop): faster, for the Welch test",
    )
    args = p.parse_args()
    classes = their_classes(args.authors)
    data = common.fashion_mnist(args.data_root)
    methods = [m for m in args.methods.split(",") if m]
    layer_rows: dict[tuple, list] = {}
    results: dict[tuple, list] = {}
    for net_seed in common.seeds(args):
        model = common.trained(MODEL, data, args.epochs, net_seed)
        print(f"net {net_seed}: dense test acc {common.after_pruning(model, data)['test_acc']:.2f}", flush=True)
        for method in methods:
            draws = args.draws if method in ("sipp_rand", "sipp_hybrid") else 1
            for d in range(draws):
                seed = 100 * net_seed + d
                points = the_set_s(model, data, seed)
                sides = {
                    "theirs": theirs(classes, method, model, points, seed, True, data),
                    "ours+prop": ours(method, model, data, seed, True),
                }
                if not args.propagated_only:
                    sides["ours-prop"] = ours(method, model, data, seed, False)
                if method != "sipp_rand" and not args.propagated_only:
                    sides["theirs-prop"] = theirs(classes, method, model, points, seed, False, data)
                for sparsity in SPARSITIES:
                    reference = sides["theirs"][sparsity]
                    for side, by_sparsity in sides.items():
                        r = by_sparsity[sparsity]
                        measured = common.after_pruning(r["model"], data)
                        compare_to = (
                            sides["theirs-prop"][sparsity]
                            if side == "ours-prop" and "theirs-prop" in sides
                            else reference
                        )
                        rows = common.compare_masks(r["mask"], compare_to["mask"])
                        results.setdefault((method, sparsity, side), []).append(
                            {
                                **measured,
                                "kept": rows[-1]["kept_ours"],
                                "biases_zeroed": r["biases_zeroed"],
                                "jaccard": rows[-1]["jaccard"],
                                "target": reference["target"],
                            }
                        )
                        for row in rows:
                            layer_rows.setdefault((method, sparsity, side, row["layer"]), []).append(row)
                print(f"  {method} draw {d}: done", flush=True)
        print(f"\n===== after net {net_seed} =====")
        report(layer_rows, results)


def mean(values) -> float:
    return float(np.mean(values))


def report(layer_rows: dict, results: dict) -> None:
    print(
        "\nJaccard: ours+prop and theirs-prop against theirs (torchprune as run), ours-prop against theirs-prop "
        "(both without propagation) where that exists, else against theirs"
    )
    common.print_table(
        "per layer (mean over nets and draws)",
        [
            {
                "method": m,
                "sparsity": s,
                "side": side,
                "layer": layer,
                "kept_side": mean([r["kept_ours"] for r in rows]),
                "kept_ref": mean([r["kept_theirs"] for r in rows]),
                "jaccard": mean([r["jaccard"] for r in rows]),
            }
            for (m, s, side, layer), rows in layer_rows.items()
            if side != "theirs"
        ],
    )
    common.print_table(
        "after pruning (mean ± sd over nets and draws)",
        [
            {
                "method": m,
                "sparsity": s,
                "side": side,
                "n": len(rows),
                "target": rows[0]["target"],
                "kept": mean([r["kept"] for r in rows]),
                "biases_zeroed": mean([r["biases_zeroed"] for r in rows]),
                "test_acc": common.mean_sd([r["test_acc"] for r in rows]),
                "test_loss": common.mean_sd([r["test_loss"] for r in rows]),
                "jaccard": mean([r["jaccard"] for r in rows]),
            }
            for (m, s, side), rows in results.items()
        ],
    )
    tests = []
    for (m, s, side), rows in results.items():
        if side != "theirs" or m not in ("sipp_rand", "sipp_hybrid"):
            continue
        for mine in ("ours+prop", "ours-prop"):
            if (m, s, mine) not in results:
                continue
            a, b = [r["test_acc"] for r in results[m, s, mine]], [r["test_acc"] for r in rows]
            t = stats.ttest_ind(a, b, equal_var=False)
            tests.append(
                {
                    "method": m,
                    "sparsity": s,
                    "ours": mine,
                    "n_each": f"{len(a)}/{len(b)}",
                    "diff": mean(a) - mean(b),
                    "welch_t": float(t.statistic),
                    "p": float(t.pvalue),
                    "rejects_at_0.05": bool(t.pvalue < 0.05),
                }
            )
    common.print_table("Welch t test of test accuracy, ours vs theirs", tests)


if __name__ == "__main__":
    main()
