"""Wang et al.'s L1 neuron pruning, OrthP and Jacobian singular values (JSV) against prunelab's, on MLP-7.

Authors: MingSun-Tse/Smile-Pruning @ 03c071b93d67 (``pruner/meta_pruner.py`` ``MetaPruner._get_kept_wg_L1`` and
``_prune_and_build_new_model``: L1 filter pruning and the physically compacted net; ``pruner/reinit_model.py``
``exact_isometry_based_on_existing_weights``: OrthP; ``model/mlp.py`` ``mlp_7_linear``/``mlp_7_relu``) and
@ 5a66da000fe0 (``utils.py``: ``orthogonalize_weights``, ``get_jacobian_singular_values``; at 03c071b93d67 that
file is a link outside the repository). prunelab: ``src/prunelab/pruning/l1_filter.py``,
``src/prunelab/branch_types/isometry.py`` ``orthp_``, ``src/prunelab/metrics/jsv.py`` (docs/methods.md §2.10).

For each activation (linear, ReLU), seed and pruning ratio pr: an MLP-7 (width 100, Fashion-MNIST at 32×32) is
trained by prunelab's loop for ``--epochs``; its weights are loaded into the authors' ``FCNet``, which their
pruner compacts with stage_pr ``[0-5:pr, 6:0]``; prunelab prunes the same net with ``l1_filter`` (a mask).
Printed per run: the kept units (theirs in their list order, which is CPython set order), the largest logit
difference between their compacted net and our masked net, their JSV and ours (mean, std, max, min, mean
condition number) right after pruning and after OrthP, and the JSV after OrthP when their kept units are
sorted ascending (prunelab's order), with the test accuracy after OrthP and after ``--finetune-epochs`` of
masked fine-tuning (LR 0.01) for both orders.

Run (one base net per activation and seed, two fine-tunings per run where the orders differ):

    python scripts/crosscheck/isometry.py --authors /path/to/Smile-Pruning@03c071b93d67 \\
        --authors-utils /path/to/Smile-Pruning@5a66da000fe0 --data-root /path/with/FashionMNIST
"""

from __future__ import annotations

import contextlib
import copy
import importlib.util
import sys
import types
from pathlib import Path

import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402

from prunelab.branch_types.isometry import orthp_  # noqa: E402
from prunelab.metrics.jsv import jacobian_singular_values, summarize  # noqa: E402
from prunelab.pruning.multistep import run_method, scoring_batches  # noqa: E402
from prunelab.training.masks import Mask  # noqa: E402
from prunelab.training.single_model import Trainer  # noqa: E402


def load_authors(checkout: Path, utils_checkout: Path):
    """Their pruner, OrthP, JSV and MLP-7, with ``utils`` taken from the later commit (see the docstring)."""
    utils_file = utils_checkout.expanduser().resolve() / "utils.py"
    if not utils_file.is_file():
        sys.exit(f"--authors-utils {utils_file.parent}: utils.py is missing")
    spec = importlib.util.spec_from_file_location("utils", utils_file)
    utils = importlib.util.module_from_spec(spec)
    sys.modules["utils"] = utils
    spec.loader.exec_module(utils)
    # two calls today's torch removed: the helper their compute_jacobian imports to clear the input's gradient,
    # and torch.qr (their orthogonalize_weights), whose reduced mode is torch.linalg.qr's default
    sys.modules["torch.autograd.gradcheck"].zero_gradients = lambda x: x.grad.zero_() if x.grad is not None else None
    torch.qr = lambda a, some=True: torch.linalg.qr(a, mode="reduced" if some else "complete")
    common.authors_checkout(checkout, "pruner/meta_pruner.py", stub_packages=("pruner", "model"))
    from model.mlp import mlp_7_linear, mlp_7_relu
    from pruner.meta_pruner import MetaPruner
    from pruner.reinit_model import exact_isometry_based_on_existing_weights

    return types.SimpleNamespace(
        MetaPruner=MetaPruner,
        orthp=exact_isometry_based_on_existing_weights,
        jsv=utils.get_jacobian_singular_values,
        mlp7={"linear": mlp_7_linear, "relu": mlp_7_relu},
    )


@contextlib.contextmanager
def cpu_for_cuda():
    """Their code calls ``.cuda()`` on modules and tensors; on this CPU run those are identities."""
    saved = nn.Module.cuda, torch.Tensor.cuda
    nn.Module.cuda = lambda self, *a, **k: self
    torch.Tensor.cuda = lambda self, *a, **k: self
    try:
        yield
    finally:
        nn.Module.cuda, torch.Tensor.cuda = saved


def their_pruned(authors, ours: nn.Module, act: str, pr: float, sort_kept: bool) -> tuple[nn.Module, dict]:
    """Their FCNet holding ``ours``' weights, compacted by their L1 pruner; ``sort_kept`` sorts the kept lists."""
    net = authors.mlp7[act]()
    theirs = [m for m in net.modules() if isinstance(m, nn.Linear)]
    for src, dst in zip([m for m in ours.modules() if isinstance(m, nn.Linear)], theirs):
        dst.load_state_dict(src.state_dict())
    pruner = authors.MetaPruner.__new__(authors.MetaPruner)
    quiet = lambda *a, **k: None  # noqa: E731
    pruner.model, pruner.learnable_layers = net, (nn.Conv2d, nn.Linear)
    pruner.args = types.SimpleNamespace(
        arch=f"mlp_7_{act}",
        base_pr_model=None,
        wg="filter",
        pick_pruned="min",
        inherit_pruned="",
        copy_bn_w=True,
        copy_bn_b=True,
    )
    pruner.logprint = pruner.netprint = quiet
    pruner.layers, pruner.all_layers, pruner.kept_wg, pruner.pruned_wg = {}, [], {}, {}
    with contextlib.redirect_stdout(None), cpu_for_cuda():
        pruner._register_layers()
        names = list(pruner.layers)
        pruner.pr = {n: (pr if i < len(names) - 1 else 0) for i, n in enumerate(names)}
        pruner._get_kept_wg_L1()
        if sort_kept:
            pruner.kept_wg = {n: sorted(k) for n, k in pruner.kept_wg.items()}
        pruner._prune_and_build_new_model()
    return pruner.model, {n: [int(i) for i in k] for n, k in pruner.kept_wg.items()}


def their_jsv(authors, net: nn.Module, batches, classes: int = 10) -> dict:
    batches = [(x.clone(), y) for x, y in batches]  # their loop sets requires_grad on the images
    with contextlib.redirect_stdout(None), cpu_for_cuda():
        jsv, _, _ = authors.jsv(net, batches, classes, n_loop=len(batches), print_func=lambda *a: None)
    return summarize(torch.as_tensor(jsv))


def expand(compact: nn.Module, kept: dict, like: nn.Module) -> nn.Module:
    """Our masked-net layout holding their compacted weights (unit i of their layer = kept[i] of ours)."""
    out = copy.deepcopy(like)
    small = [m for m in compact.modules() if isinstance(m, nn.Linear)]
    big = [m for m in out.modules() if isinstance(m, nn.Linear)]
    rows = list(kept.values())
    with torch.no_grad():
        cols = list(range(big[0].in_features))
        for layer, (s, b) in enumerate(zip(small, big)):
            r = rows[layer]
            b.weight.zero_()
            b.weight[torch.tensor(r).unsqueeze(1), torch.tensor(cols)] = s.weight
            b.bias.zero_()
            b.bias[torch.tensor(r)] = s.bias
            cols = r
    return out


def fine_tune(model: nn.Module, mask: Mask, data, epochs: int, seed: int) -> float:
    Trainer(
        model,
        data,
        {**common.TRAIN, "lr": 0.01, "epochs": epochs},
        data_seed=seed,
        label="ft",
        mask=mask,
        log=lambda _: None,
    ).run()
    return common.after_pruning(model.eval(), data)["test_acc"]


def one(authors, data, model: nn.Module, act: str, seed: int, pr: float, finetune: int, batches) -> dict:
    mask = run_method(model, "l1_filter", {"layers": None}, pr, seed=seed).mask
    ours = common.masked_copy(model, mask)
    row = {"act": act, "seed": seed, "pr": pr}
    theirs, kept = their_pruned(authors, model, act, pr, sort_kept=False)
    ascending, _ = their_pruned(authors, model, act, pr, sort_kept=True)
    row["set_order_sorted"] = all(k == sorted(k) for k in kept.values())
    ours_units = [
        sorted(int(i) for i in m.reshape(m.shape[0], -1).any(1).nonzero().flatten()) for m in list(mask.values())[:-1]
    ]
    row["same_units"] = all(sorted(k) == u for k, u in zip(kept.values(), ours_units))
    x = batches[0][0]
    with torch.no_grad():
        row["logit_diff"] = float((theirs(x) - ours(x)).abs().max())
    row["jsv_pruned_theirs"] = their_jsv(authors, theirs, batches)["jsv_mean"]
    row["jsv_pruned_ours"] = summarize(jacobian_singular_values(ours, batches))["jsv_mean"]
    with contextlib.redirect_stdout(None):
        authors.orthp(theirs, act)
        authors.orthp(ascending, act)
    orthp_(ours, act, mask)
    row["w_diff_ascending"] = max(
        float((a.weight - b.weight).detach().abs().max())
        for a, b in zip(
            [m for m in expand(ascending, kept_sorted(kept), ours).modules() if isinstance(m, nn.Linear)],
            [m for m in ours.modules() if isinstance(m, nn.Linear)],
        )
    )
    t, a, o = (
        their_jsv(authors, theirs, batches),
        their_jsv(authors, ascending, batches),
        summarize(jacobian_singular_values(ours, batches)),
    )
    row.update(
        {
            "jsv_orthp_theirs": t["jsv_mean"],
            "jsv_orthp_theirs_sorted": a["jsv_mean"],
            "jsv_orthp_ours": o["jsv_mean"],
            "std_theirs": t["jsv_std"],
            "std_ours": o["jsv_std"],
            "cond_theirs": t["jsv_condition_mean"],
            "cond_ours": o["jsv_condition_mean"],
        }
    )
    if finetune and not row["set_order_sorted"]:  # with ascending kept lists both orders are the same net
        set_order = expand(theirs, kept, ours)
        row["acc_orthp_set"] = common.after_pruning(set_order, data)["test_acc"]
        row["acc_orthp_asc"] = common.after_pruning(ours, data)["test_acc"]
        row["ft_acc_set"] = fine_tune(set_order, mask, data, finetune, seed)
        row["ft_acc_asc"] = fine_tune(ours, mask, data, finetune, seed)
    return row


def kept_sorted(kept: dict) -> dict:
    return {n: sorted(k) for n, k in kept.items()}


def main() -> None:
    p = common.parser(__doc__.splitlines()[0], "pruner/meta_pruner.py")
    p.add_argument(
        "--authors-utils", required=True, type=Path, help="a checkout of Smile-Pruning @ 5a66da000fe0 (for utils.py)"
    )
    p.add_argument("--prs", default="0.5,0.9", help="comma-separated pruning ratios")
    p.add_argument("--acts", default="linear,relu")
    p.add_argument("--finetune-epochs", default=1, type=int, help="0: no fine-tuning after OrthP")
    p.add_argument("--jsv-batches", default=5, type=int, help="batches of 100 training images for the JSV")
    args = p.parse_args()
    authors = load_authors(args.authors, args.authors_utils)
    data = common.fashion_mnist(args.data_root, size=32)
    batches = scoring_batches(data, 100 * args.jsv_batches, 100, 0)
    rows = []
    for act in args.acts.split(","):
        for seed in common.seeds(args):
            model = common.trained({"name": "mlp7", "activation": act}, data, args.epochs, seed)
            rows += [
                one(authors, data, model, act, seed, float(pr), args.finetune_epochs, batches)
                for pr in args.prs.split(",")
            ]
    rows.sort(key=lambda r: (r["act"], r["pr"], r["seed"]))
    columns = list(dict.fromkeys(k for r in rows for k in r if not k.startswith(("std_", "cond_"))))
    common.print_table(
        "MLP-7: their L1 pruner + OrthP + JSV against prunelab's", [{k: r.get(k) for k in columns} for r in rows]
    )
    common.print_table(
        "JSV spread after OrthP",
        [{k: r[k] for k in ("act", "seed", "pr", "std_theirs", "std_ours", "cond_theirs", "cond_ours")} for r in rows],
    )
    for act in args.acts.split(","):
        for pr in args.prs.split(","):
            sel = [r for r in rows if r["act"] == act and r["pr"] == float(pr)]
            diffs = [r["jsv_orthp_theirs"] - r["jsv_orthp_ours"] for r in sel]
            print(
                f"{act} pr {pr}: JSV after OrthP, set order {common.mean_sd([r['jsv_orthp_theirs'] for r in sel])}"
                f", ascending {common.mean_sd([r['jsv_orthp_ours'] for r in sel])}, paired diff "
                f"{common.mean_sd(diffs)}"
                + (
                    f"; fine-tuned acc set order {common.mean_sd([r['ft_acc_set'] for r in sel])}, ascending "
                    f"{common.mean_sd([r['ft_acc_asc'] for r in sel])}"
                    if all("ft_acc_set" in r for r in sel)
                    else ""
                )
            )


if __name__ == "__main__":
    main()
