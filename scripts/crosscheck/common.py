"""What every cross-check against an author's code shares: their checkout on the import path, one trained net
and its data, and the comparison printed per layer and in total.

A cross-check (``scripts/crosscheck/<method>.py``) runs the authors' implementation, imported at run time from
a checkout the user points to, beside prunelab's on the same trained network, the same data and the same seeds.
Nothing of the authors' is committed: ``--authors PATH`` names their checkout (see docs/fidelity.md for the
repository and commit each script was measured against).
"""

from __future__ import annotations

import argparse
import copy
import math
import sys
import types
from pathlib import Path

import torch
from torch import nn

from prunelab.data.tensors import TensorData, load_dataset
from prunelab.models import build_model
from prunelab.training.masks import Mask, prunable_parameters
from prunelab.training.single_model import Trainer, evaluate


def parser(description: str, authors_file: str) -> argparse.ArgumentParser:
    """The arguments every cross-check takes; ``authors_file`` is a file their checkout must contain."""
    p = argparse.ArgumentParser(description=description)
    p.add_argument(
        "--authors",
        required=True,
        type=Path,
        help=f"a checkout of the authors' repository (must contain {authors_file})",
    )
    p.add_argument(
        "--data-root",
        default="data",
        type=Path,
        help="folder with FashionMNIST/raw/ (scripts/fashion-mnist-debian.sh lays it out)",
    )
    p.add_argument("--seeds", default="1,2,3", help="comma-separated seeds: one trained net and one draw each")
    p.add_argument("--epochs", default=3, type=int, help="dense training epochs of the cross-check net")
    p.set_defaults(authors_file=authors_file)
    return p


def seeds(args: argparse.Namespace) -> list[int]:
    return [int(s) for s in str(args.seeds).split(",") if s.strip()]


def authors_checkout(path: Path, required: str, *, stub_packages: tuple[str, ...] = ()) -> Path:
    """Put ``path`` (or the folder that holds the authors' package) first on ``sys.path``.

    ``required`` is a file relative to ``path`` that must exist; ``stub_packages`` are package names to register
    as empty namespace packages rooted in the checkout (for repositories whose top-level ``__init__`` pulls in
    dependencies the cross-check does not need). A wrong path is one line and exit status 2.
    """
    path = path.expanduser().resolve()
    if not (path / required).is_file():
        sys.exit(f"--authors {path}: not a checkout of the authors' repository ({required} is missing)")
    sys.path.insert(0, str(path))
    for name in stub_packages:
        module = types.ModuleType(name)
        module.__path__ = [str(path / Path(*name.split(".")))]
        sys.modules[name] = module
    return path


def fashion_mnist(root: Path, size: int = 28, validation: int = 5000) -> TensorData:
    """Real Fashion-MNIST as prunelab loads it (standardised, seeded validation split from the training set)."""
    spec = {
        "name": "fashion_mnist",
        "size": size,
        "channels": 1,
        "validation": validation,
        "split_seed": 0,
        "augment": {},
        "download": False,
        "verify_checksums": False,
    }
    return load_dataset(spec, root)


TRAIN = {
    "batch_size": 100,
    "lr": 0.05,
    "momentum": 0.9,
    "nesterov": False,
    "weight_decay": 1e-4,
    "schedule": {"name": "cosine"},
    "warmup_epochs": 0,
}


def trained(model_spec: dict, data: TensorData, epochs: int, seed: int, train: dict | None = None) -> nn.Module:
    """A net of ``model_spec`` trained by prunelab's own loop for ``epochs`` (init and data seed ``seed``)."""
    model = build_model(model_spec, data.input_shape, data.num_classes, seed=seed)
    Trainer(
        model,
        data,
        {**TRAIN, **(train or {}), "epochs": epochs},
        data_seed=seed,
        label=f"net{seed}",
        log=lambda _: None,
    ).run()
    return model.eval()


def masked_copy(model: nn.Module, mask: Mask) -> nn.Module:
    """θ ⊙ m on a deep copy (``model`` untouched)."""
    out = copy.deepcopy(model)
    mask.apply_(prunable_parameters(out))
    return out


def jaccard(a: torch.Tensor, b: torch.Tensor) -> float:
    """|a ∩ b| / |a ∪ b| of two boolean keep-masks (1.0 when both keep nothing)."""
    a, b = a.bool(), b.bool()
    union = int((a | b).sum())
    return 1.0 if union == 0 else int((a & b).sum()) / union


def compare_masks(ours: dict[str, torch.Tensor], theirs: dict[str, torch.Tensor]) -> list[dict]:
    """Per-layer rows (name, kept by each, Jaccard of the kept sets) plus a ``total`` row over all layers."""
    rows = []
    for name in ours:
        rows.append(
            {
                "layer": name,
                "kept_ours": int(ours[name].sum()),
                "kept_theirs": int(theirs[name].sum()),
                "numel": ours[name].numel(),
                "jaccard": jaccard(ours[name], theirs[name]),
            }
        )
    flat_ours = torch.cat([ours[n].flatten() for n in ours])
    flat_theirs = torch.cat([theirs[n].flatten() for n in ours])
    rows.append(
        {
            "layer": "total",
            "kept_ours": int(flat_ours.sum()),
            "kept_theirs": int(flat_theirs.sum()),
            "numel": flat_ours.numel(),
            "jaccard": jaccard(flat_ours, flat_theirs),
        }
    )
    return rows


def after_pruning(model: nn.Module, data: TensorData) -> dict:
    """Test accuracy (%) and loss, and train loss, of an already pruned ``model`` (eval mode)."""
    test = evaluate(model, data.test_x, data.test_y)
    train = evaluate(model, data.train_x, data.train_y)
    return {"test_acc": test["acc"], "test_loss": test["loss"], "train_loss": train["loss"]}


def print_table(title: str, rows: list[dict]) -> None:
    """``rows`` as an aligned plain-text table under ``title`` (floats to 4 significant decimals)."""
    if not rows:
        print(f"{title}: no rows")
        return
    columns = list(rows[0])
    cells = [[_cell(r.get(c)) for c in columns] for r in rows]
    widths = [max(len(c), *(len(row[i]) for row in cells)) for i, c in enumerate(columns)]
    print(f"\n{title}")
    print("  ".join(c.ljust(w) for c, w in zip(columns, widths)))
    for row in cells:
        print("  ".join(v.ljust(w) for v, w in zip(row, widths)))


def _cell(value) -> str:
    if isinstance(value, float):
        return "nan" if math.isnan(value) else f"{value:.4f}"
    return str(value)


def mean_sd(values: list[float]) -> str:
    """``mean ± sd`` (sample sd; a single value has none)."""
    t = torch.tensor(values, dtype=torch.float64)
    return f"{float(t.mean()):.2f}" if len(values) < 2 else f"{float(t.mean()):.2f} ± {float(t.std()):.2f}"
