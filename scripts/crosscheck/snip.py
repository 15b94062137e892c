"""Cross-check SNIP: prunelab's scorer and selector against two PyTorch readings of SNIP, on one net.

SNIP's authors published TensorFlow, so the references are the two PyTorch implementations prunelab cites
(docs/methods.md §0, §2.7):

- ganguli-lab/Synaptic-Flow @ 9dfa57aa4012 (``--authors``): ``Pruners/pruners.py:SNIP.score`` (|∂L/∂mask|
  through ``Layers/layers.py`` masked layers, normalised to sum 1), ``Pruner._global_mask`` (kthvalue
  threshold, entries ``<=`` it pruned) and ``prune.py:prune_loop`` (eval mode unless ``--prune-train-mode``,
  its own sparsity check), with ``Utils/generator.py:masked_parameters`` choosing the tensors (no biases, no
  BatchNorm: its command-line defaults).
- lucaslie/torchprune @ 14b392c (``--torchprune``, the folder holding the ``torchprune`` package):
  ``torchprune/method/snip/{snip_net,snip_tracker}.py`` (a batch-size-weighted running mean of g⊙θ, abs
  after each batch), ``method/thres_weight/thres_weight_allocator.py`` (global top-k), and
  ``method/base/base_net.py:CompressedNet.compress`` (keep ratio over *all* parameters, biases included, a
  Brent search to within 0.5 %, then ``_propagate_compression`` zeroing weights whose gradient is exactly 0).

Both get prunelab's net, prunelab's scoring batches (``scoring_batches``: the same examples and order) and
the same sparsity; torchprune's keep ratio is converted so that its weight budget equals prunelab's
(d·N kept weights plus the biases it counts). For each seed, each scoring point (``init``: θ_0; ``trained``:
after ``--epochs`` of training; BatchNorm in eval mode for all three unless ``--batchnorm batch`` /
``--synflow-train-mode``) and each sparsity it prints per layer and in total the kept counts and the Jaccard
index of the masks, the largest score difference, and the accuracy/loss right after pruning.

Run (a few minutes on a CPU; the digits of the fidelity notes came from this):

    PYTHONPATH=src python scripts/crosscheck/snip.py --authors /path/to/Synaptic-Flow \
        --torchprune /path/to/torchprune/src/torchprune --data-root /path/with/FashionMNIST

``--model '{"name": "resnet20", "width": 4}'`` measures a net with BatchNorm (where the at-init mode matters);
``--pin`` prints the Synaptic-Flow masks that tests/test_snip_pinned.py pins (no data needed).
"""

from __future__ import annotations

import contextlib
import copy
import importlib.machinery
import importlib.util
import io
import json
import sys
import types
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402

from prunelab.models import build_model  # noqa: E402
from prunelab.pruning.base import PruneContext, resolve_hparams  # noqa: E402
from prunelab.pruning.multistep import run_method, scoring_batches  # noqa: E402
from prunelab.pruning.select import prune_count  # noqa: E402
from prunelab.pruning.snip import normalise  # noqa: E402
from prunelab.pruning.snip import score as snip_score  # noqa: E402
from prunelab.training.masks import Mask, prunable_parameters  # noqa: E402


def _import_synflow(path: Path):
    """Synaptic-Flow's pruner, masked layers and prune loop (tqdm, a progress bar only, stubbed if absent)."""
    common.authors_checkout(path, "Pruners/pruners.py")
    try:
        import tqdm  # noqa: F401
    except ImportError:
        stub = types.ModuleType("tqdm")
        stub.__spec__ = importlib.machinery.ModuleSpec("tqdm", None)
        stub.tqdm = lambda iterable, **_: iterable
        sys.modules["tqdm"] = stub
    import prune
    from Layers import layers
    from Pruners import pruners
    from Utils import generator

    return layers, pruners, generator, prune


def _import_torchprune(path: Path):
    """torchprune's SnipNet and NetHandle without its package ``__init__`` (which needs the whole stack)."""
    import numpy as np

    if not hasattr(np, "Inf"):
        np.Inf = np.inf  # torchprune predates NumPy 2
    common.authors_checkout(
        path, "torchprune/method/snip/snip_net.py", stub_packages=("torchprune", "torchprune.util", "torchprune.method")
    )
    from torchprune.method.snip.snip_net import SnipNet
    from torchprune.util.net import NetHandle

    return SnipNet, NetHandle


def _with_synflow_layers(model: nn.Module, layers) -> nn.Module:
    """A deep copy of ``model`` whose Linear/Conv2d modules are Synaptic-Flow's masked ones (same weights)."""
    net = copy.deepcopy(model)
    for parent in list(net.modules()):
        for name, child in list(parent.named_children()):
            if type(child) is nn.Linear:
                new = layers.Linear(child.in_features, child.out_features, bias=child.bias is not None)
            elif type(child) is nn.Conv2d:
                new = layers.Conv2d(
                    child.in_channels,
                    child.out_channels,
                    child.kernel_size,
                    child.stride,
                    child.padding,
                    child.dilation,
                    child.groups,
                    bias=child.bias is not None,
                )
            else:
                continue
            new.load_state_dict(child.state_dict(), strict=False)
            setattr(parent, name, new.to(child.weight.dtype))
    return net


def synflow_snip(model, batches, sparsity, names, authors, train_mode=False):
    """Synaptic-Flow's SNIP mask and normalised scores by prunelab parameter name (+ whether its check failed)."""
    layers, pruners, generator, prune = authors
    net = _with_synflow_layers(model, layers)
    pruner = pruners.SNIP(generator.masked_parameters(net, bias=False, batchnorm=False, residual=False))
    rejected = False
    with contextlib.redirect_stdout(io.StringIO()) as said:
        try:
            prune.prune_loop(
                net,
                nn.CrossEntropyLoss(),
                pruner,
                batches,
                torch.device("cpu"),
                1.0 - sparsity,
                "exponential",
                "global",
                1,
                train_mode=train_mode,
            )
        except SystemExit:  # its own check: more than 4 entries off the requested count
            rejected = True
    named = dict(net.named_parameters())
    by_id = {id(p): n for n, p in named.items()}
    modules = dict(net.named_modules())
    masks, scores = {}, {}
    for pid, score in pruner.scores.items():
        name = by_id[pid]
        masks[name] = modules[name.rsplit(".", 1)[0]].weight_mask.bool().clone()
        scores[name] = score
    missing = set(names) ^ set(masks)
    if missing:
        raise SystemExit(f"Synaptic-Flow scored other tensors than prunelab: {sorted(missing)}")
    return {n: masks[n] for n in names}, {n: scores[n] for n in names}, rejected, said.getvalue().strip()


def torchprune_snip(model, batches, sparsity, names, authors):
    """torchprune's SNIP mask at the same weight budget as prunelab's, its normalised sensitivities (by
    prunelab name: its compressible layers are the same Linear/Conv2d weights in module order) and the keep
    ratio it was given."""
    snip_net, net_handle = authors
    net = copy.deepcopy(model)
    total = sum(p.numel() for p in net.parameters())
    weights = sum(net.get_parameter(n).numel() for n in names)
    kept = weights - prune_count(sparsity, weights)
    keep_ratio = (kept + total - weights) / total  # its budget counts every parameter; only weights are pruned
    compressed = snip_net(net_handle(net), batches, F.cross_entropy)
    compressed._start_preprocessing()  # its sensitivities, as compress() computes them first
    scores = normalise({n: t.sensitivity.clone() for n, t in zip(names, compressed._trackers)})
    with contextlib.redirect_stdout(io.StringIO()):
        compressed.compress(keep_ratio)
    params = dict(compressed.compressed_net.torchnet.named_parameters())
    return {n: params[n].detach() != 0 for n in names}, scores, keep_ratio


def ours(model, batches, sparsity, at_init, hparams=None):
    """prunelab's SNIP mask (the library path a prune job takes) and its normalised scores."""
    hparams = resolve_hparams("snip", hparams)
    outcome = run_method(model, "snip", hparams, sparsity, batches=batches, at_init=at_init)
    params = prunable_parameters(model)
    ctx = PruneContext(
        model=model,
        params=params,
        mask=Mask.ones_like(params),
        sparsity=sparsity,
        scope="global",
        generator=torch.Generator(),
        batches=batches,
        at_init=at_init,
    )
    return dict(outcome.mask.items()), snip_score(ctx, **hparams)


def pin(authors) -> None:
    """Print the pins of tests/test_snip_pinned.py: Synaptic-Flow's masks on the tiny nets that test builds."""
    path = Path(__file__).resolve().parents[2] / "tests" / "test_snip_pinned.py"
    spec = importlib.util.spec_from_file_location("test_snip_pinned", path)
    pinned = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(pinned)
    out = {}
    for name in pinned.CASES:
        model, batches = pinned.case(name)
        names = list(prunable_parameters(model))
        for s in pinned.SPARSITIES:
            mask, _, rejected, said = synflow_snip(model, batches, s, names, authors)
            if rejected:
                raise SystemExit(f"Synaptic-Flow rejected its own mask on case {name}, sparsity {s}: {said}")
            out[name, s] = (sum(int(m.sum()) for m in mask.values()), pinned.digest(mask))
    print("PINNED = {")
    for key, value in out.items():
        print(f"    {key!r}: {value!r},")
    print("}")


def main() -> None:
    p = common.parser(__doc__.split("\n")[0], "Pruners/pruners.py")
    p.add_argument("--torchprune", type=Path, help="torchprune's src/torchprune folder (optional second reading)")
    p.add_argument("--sparsities", default="0.5,0.9,0.98")
    p.add_argument(
        "--examples",
        type=int,
        default=100,
        help="scoring examples (Synaptic-Flow: prune_dataset_ratio 10 × 10 classes)",
    )
    p.add_argument("--batch-size", type=int, default=256, help="scoring batch size (Synaptic-Flow's default)")
    p.add_argument("--points", default="init,trained", help="where to score: init, trained or both")
    p.add_argument("--model", default='{"name": "lenet_300_100"}', help="prunelab model spec (JSON)")
    p.add_argument("--size", type=int, default=28, help="image size")
    p.add_argument(
        "--synflow-train-mode",
        action="store_true",
        help="Synaptic-Flow's --prune-train-mode (BatchNorm on batch statistics; default: eval mode)",
    )
    p.add_argument(
        "--batchnorm",
        default="running",
        choices=["running", "batch"],
        help="prunelab's SNIP hyperparameter batchnorm (default: running, as the authors)",
    )
    p.add_argument("--no-accuracy", action="store_true", help="masks only (skip the evaluation after pruning)")
    p.add_argument("--pin", action="store_true", help="print the pins of tests/test_snip_pinned.py and stop")
    args = p.parse_args()
    sf = _import_synflow(args.authors)
    if args.pin:
        pin(sf)
        return
    tp = _import_torchprune(args.torchprune) if args.torchprune else None
    model_spec = json.loads(args.model)
    data = common.fashion_mnist(args.data_root, size=args.size)
    sparsities = [float(s) for s in args.sparsities.split(",")]
    points = [s.strip() for s in args.points.split(",")]
    summary = []
    for seed in common.seeds(args):
        batches = scoring_batches(data, args.examples, args.batch_size, seed)
        nets = {}
        if "init" in points:
            nets["init"] = build_model(model_spec, data.input_shape, data.num_classes, seed=seed).eval()
        if "trained" in points:
            nets["trained"] = common.trained(model_spec, data, args.epochs, seed)
        for point, model in nets.items():
            names = list(prunable_parameters(model))
            for s in sparsities:
                mine, my_scores = ours(
                    model, batches, s, at_init=point == "init", hparams={"batchnorm": args.batchnorm}
                )
                theirs, their_scores, rejected, said = synflow_snip(
                    model, batches, s, names, sf, train_mode=args.synflow_train_mode
                )
                rows = common.compare_masks(mine, theirs)
                diff = max(float((my_scores[n].double() - their_scores[n].double()).abs().max()) for n in names)
                top = max(float(my_scores[n].max()) for n in names)
                masks = {"ours": mine, "synflow": theirs}
                tp_rows = None
                if tp is not None:
                    tp_mask, tp_scores, keep_ratio = torchprune_snip(model, batches, s, names, tp)
                    tp_diff = max(float((my_scores[n].double() - tp_scores[n].double()).abs().max()) for n in names)
                    tp_rows = common.compare_masks(mine, tp_mask)
                    masks["torchprune"] = tp_mask
                table = []
                for i, row in enumerate(rows):
                    line = {
                        "layer": row["layer"],
                        "numel": row["numel"],
                        "kept_ours": row["kept_ours"],
                        "kept_synflow": row["kept_theirs"],
                        "J_synflow": row["jaccard"],
                    }
                    if tp_rows:
                        line.update(
                            {"kept_torchprune": tp_rows[i]["kept_theirs"], "J_torchprune": tp_rows[i]["jaccard"]}
                        )
                    table.append(line)
                title = f"seed {seed}, {point}, sparsity {s}: max |score ours − synflow| = {diff:.3g} (max {top:.3g})"
                if rejected:
                    title += f"; Synaptic-Flow's own check REJECTED its mask: {said}"
                if tp_rows:
                    title += f"; torchprune keep_ratio {keep_ratio:.6f}, max |score ours − theirs| = {tp_diff:.3g}"
                common.print_table(title, table)
                accs = (
                    {}
                    if args.no_accuracy
                    else {k: common.after_pruning(common.masked_copy(model, Mask(m)), data) for k, m in masks.items()}
                )
                if accs:
                    common.print_table("right after pruning", [{"mask": k, **v} for k, v in accs.items()])
                summary.append(
                    {
                        "point": point,
                        "sparsity": s,
                        "seed": seed,
                        "J_synflow": rows[-1]["jaccard"],
                        "J_torchprune": tp_rows[-1]["jaccard"] if tp_rows else float("nan"),
                        **{f"acc_{k}": v["test_acc"] for k, v in accs.items()},
                    }
                )
    print("\nmean ± sd over seeds")
    for point in dict.fromkeys(r["point"] for r in summary):
        for s in sparsities:
            rs = [r for r in summary if r["point"] == point and r["sparsity"] == s]
            cols = [c for c in rs[0] if c not in ("point", "sparsity", "seed")]
            print(
                f"  {point:8s} s={s:<5}: "
                + ", ".join(
                    f"{c} {min(r[c] for r in rs):.4f}–{max(r[c] for r in rs):.4f}"
                    if c.startswith("J_")
                    else f"{c} {common.mean_sd([r[c] for r in rs])}"
                    for c in cols
                )
            )


if __name__ == "__main__":
    main()
