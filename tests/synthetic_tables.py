"""Synthetic tidy tables shaped like the four paper suites' (aggregate.COLUMNS), with seeds and failed runs.

The numbers are made up but realistic (near the published ones where those exist), so figures can be drawn
and looked at without training anything; tests compute the expected means/stds from the same rows.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd

from prunelab.analysis.aggregate import COLUMNS
from prunelab.replication.references import WANG_RATIOS, wang_jsv


def row(**values) -> dict:
    base = {column: None for column in COLUMNS}
    base.update(
        {
            "experiment": "exp",
            "activation": None,
            "dense_lr": 0.1,
            "hparams": None,
            "scope": None,
            "steps": None,
            "level": 0,
            "target_sparsity": 0.0,
            "sparsity": 0.0,
            "status": "ok",
            "epochs": 10.0,
        }
    )
    base.update(values)
    if base["best_test_acc"] is None:
        base["best_test_acc"] = base["test_acc"]
    return base


def frame(rows: list[dict]) -> pd.DataFrame:
    return pd.DataFrame.from_records(rows, columns=COLUMNS)


def dense_row(dense, model, dataset, seed, acc, **extra) -> dict:
    return row(dense=dense, model=model, dataset=dataset, seed=seed, stage="dense", test_acc=acc, **extra)


def _branch(base: dict, branch: str, kind: str, acc: float, **extra) -> dict:
    return row(**{**base, "stage": "branch", "branch": branch, "branch_type": kind, "test_acc": acc, **extra})


def rethinking_table1(rng=None) -> pd.DataFrame:
    """ResNet-56/110 on cifar10 (published overlay) and VGG-16 (unverified row: no overlay); one diverged run."""
    rng = rng or np.random.default_rng(0)
    rows = []
    nets = {
        "r56": ("resnet56", 93.1, {"l1_a": (0.1156, 93.0), "l1_b": (0.3791, 92.9)}),
        "r110": ("resnet110", 93.3, {"l1_a": (0.1883, 93.2), "l1_b": (0.6273, 93.4)}),
        "vgg": ("vgg16", 93.6, {"l1_a": (0.5, 93.5)}),
    }
    for dense, (model, acc, prunings) in nets.items():
        dense_ops = 2.5e8
        for seed in (1, 2, 3):
            rows.append(
                dense_row(
                    dense, model, "cifar10", seed, acc + rng.normal(0, 0.15), ops=dense_ops, params=8.5e5, epochs=160.0
                )
            )
            for pruning, (factor, level) in prunings.items():
                base = {
                    "experiment": "table1",
                    "dense": dense,
                    "model": model,
                    "dataset": "cifar10",
                    "seed": seed,
                    "pruning": pruning,
                    "method": "l1_filter",
                    "target_sparsity": 0.3,
                    "sparsity": 0.12,
                    "ops": dense_ops / (1 + factor),
                    "params": 8.5e5 * 0.9,
                }
                rows.append(row(**base, stage="pruned", test_acc=level - 30 + rng.normal(0, 2)))
                rows.append(
                    _branch(base, "ft", "finetune", level - 0.2 + rng.normal(0, 0.15), branch_lr=0.001, epochs=40.0)
                )
                rows.append(
                    _branch(base, "se", "scratch_e", level - 0.1 + rng.normal(0, 0.2), branch_lr=0.1, epochs=160.0)
                )
                diverged = dense == "r110" and pruning == "l1_b" and seed == 3
                rows.append(
                    _branch(
                        base,
                        "sb",
                        "scratch_b",
                        np.nan if diverged else level + rng.normal(0, 0.2),
                        branch_lr=0.1,
                        epochs=160.0 * (1 + factor),
                        status="diverged" if diverged else "ok",
                    )
                )
    return frame(rows)


def rethinking_weight_level(rng=None) -> pd.DataFrame:
    rng = rng or np.random.default_rng(1)
    rows = []
    for dense, model, acc in (("vgg19", "vgg19", 93.5), ("preresnet", "resnet110", 95.0)):
        for seed in (1, 2, 3):
            rows.append(dense_row(dense, model, "cifar10", seed, acc + rng.normal(0, 0.1)))
            for s in (0.3, 0.5, 0.7, 0.9):
                base = {
                    "experiment": "weight_level",
                    "dense": dense,
                    "model": model,
                    "dataset": "cifar10",
                    "seed": seed,
                    "pruning": "magnitude",
                    "method": "magnitude",
                    "target_sparsity": s,
                    "sparsity": s,
                }
                rows.append(row(**base, stage="pruned", test_acc=acc - 40 * s**3))
                rows.append(_branch(base, "ft", "finetune", acc - 0.1 - 1.5 * s**4 + rng.normal(0, 0.1)))
                rows.append(_branch(base, "se", "scratch_e", acc - 0.4 - 3.0 * s**3 + rng.normal(0, 0.15)))
                skipped = dense == "vgg19" and s == 0.9 and seed == 2
                rows.append(
                    _branch(
                        base,
                        "sb",
                        "scratch_b",
                        np.nan if skipped else acc - 0.1 - 2.0 * s**3 + rng.normal(0, 0.15),
                        status="skipped" if skipped else "ok",
                    )
                )
    return frame(rows)


def rethinking_lottery(rng=None) -> pd.DataFrame:
    rng = rng or np.random.default_rng(2)
    rows = []
    for dense, lr, gain in (("vgg_lr01", 0.1, 0.0), ("vgg_lr001", 0.01, 1.2)):
        for seed in (1, 2):
            acc = 93.5 if lr == 0.1 else 92.2
            rows.append(dense_row(dense, "vgg16", "cifar10", seed, acc + rng.normal(0, 0.1), dense_lr=lr))
            for level in range(1, 7):
                s = 1 - 0.8**level
                base = {
                    "experiment": f"lottery_{dense}",
                    "dense": dense,
                    "model": "vgg16",
                    "dataset": "cifar10",
                    "seed": seed,
                    "dense_lr": lr,
                    "pruning": "magnitude",
                    "method": "magnitude",
                    "level": level,
                    "target_sparsity": s,
                    "sparsity": s,
                }
                decay = 3 * s**4
                rows.append(_branch(base, "lottery", "lottery", acc - decay + gain * s + rng.normal(0, 0.1)))
                rows.append(_branch(base, "reinit", "reinit", acc - decay - 0.1 + rng.normal(0, 0.1)))
    return frame(rows)


LAMBDAS = [0.0, 1e-5, 1e-4, 1e-3, 1e-2, 1e-1, 1.0, 10.0, 100.0]


def lossmodel(rng=None) -> pd.DataFrame:
    """MLP and VGG11: {lm, qm} × T ∈ {1, 14} × λ grid, plus magnitude (no λ); one diverged retraining."""
    rng = rng or np.random.default_rng(3)
    rows = []
    for dense, model, dataset, acc, s in (
        ("mlp", "lenet_300_100", "mnist", 98.3, 0.98847),
        ("vgg11", "vgg11", "cifar10", 91.0, 0.956),
    ):
        for seed in (1111, 1112):
            activation = "tanh" if model != "vgg11" else None
            rows.append(
                dense_row(dense, model, dataset, seed, acc + rng.normal(0, 0.05), dense_lr=0.01, activation=activation)
            )
            settings = [("magnitude", 1, None)] + [
                (m, t, lam) for m in ("lm", "qm") for t in (1, 14) for lam in LAMBDAS
            ]
            for method, steps, lam in settings:
                hparams = {} if lam is None else {"lambda": lam, "curvature": "ggn"}
                name = method if lam is None else f"{method}_T{steps}_l{lam:g}"
                locality = 0.0 if lam is None else np.exp(-((np.log10(lam + 1e-6) + 2.5) ** 2) / 4)
                loss = 2.0 - 0.8 * locality - (0.3 if method == "qm" else 0) + 0.2 * (steps == 1) + rng.normal(0, 0.03)
                final = acc - 1.5 + 1.0 * locality + 0.2 * (steps == 14) + rng.normal(0, 0.08)
                base = {
                    "experiment": "locality",
                    "dense": dense,
                    "model": model,
                    "activation": activation,
                    "dataset": dataset,
                    "seed": seed,
                    "dense_lr": 0.01,
                    "pruning": name,
                    "method": method,
                    "hparams": json.dumps(hparams),
                    "steps": steps,
                    "scope": "global",
                    "target_sparsity": s,
                    "sparsity": s,
                }
                rows.append(
                    row(**base, stage="pruned", test_acc=30 + 20 * locality, train_loss=loss, test_loss=loss + 0.05)
                )
                diverged = dense == "vgg11" and name == "qm_T1_l100" and seed == 1112
                rows.append(
                    _branch(
                        base,
                        "retrain",
                        "finetune",
                        np.nan if diverged else final,
                        pruned_train_loss=loss,
                        pruned_test_loss=loss + 0.05,
                        status="diverged" if diverged else "ok",
                    )
                )
    return frame(rows)


def sipp(rng=None) -> pd.DataFrame:
    rng = rng or np.random.default_rng(4)
    rows = []
    strength = {"sipp_det": 1.0, "sipp_rand": 0.9, "sipp_hybrid": 1.05, "wt": 0.8, "snip": 0.6}
    for dense, model, dataset, acc in (
        ("lenet300", "lenet_300_100", "mnist", 98.4),
        ("resnet20", "resnet20", "cifar10", 91.5),
    ):
        for seed in (0, 1, 2):
            rows.append(dense_row(dense, model, dataset, seed, acc + rng.normal(0, 0.1), params=2.7e5))
            for pruning, k in strength.items():
                method = "magnitude" if pruning == "wt" else pruning
                for keep in (0.5, 0.3, 0.2, 0.1, 0.05, 0.03, 0.02):
                    s = 1 - keep
                    base = {
                        "experiment": "sipp",
                        "dense": dense,
                        "model": model,
                        "dataset": dataset,
                        "seed": seed,
                        "pruning": pruning,
                        "method": method,
                        "target_sparsity": s,
                        "sparsity": s,
                        "params": 2.7e5 * keep + 400,
                    }
                    rows.append(
                        row(
                            **base,
                            stage="pruned",
                            test_acc=max(10.0, acc - 3 * (0.12 / (keep * k)) ** 1.5 + rng.normal(0, 0.3)),
                        )
                    )
                    rows.append(
                        _branch(
                            base,
                            "retrain",
                            "finetune",
                            max(10.0, acc - 0.6 * (0.05 / (keep * k)) ** 1.5 + rng.normal(0, 0.1)),
                        )
                    )
    return frame(rows)


def dyniso_jsv(rng=None, dataset="mnist") -> pd.DataFrame:
    """The four Wang networks at the published pruning ratios, JSV near the published means; one skipped run."""
    rng = rng or np.random.default_rng(5)
    published = wang_jsv()
    rows = []
    for (model, act), group in published.groupby(["model", "activation"]):
        dense = f"{model}_{act}"
        for seed in (0, 1, 2):
            rows.append(dense_row(dense, model, dataset, seed, 97.0, activation=act))
            for ratio in WANG_RATIOS:
                value = group[np.isclose(group["pruning_ratio"], ratio)]["value"].iloc[0]
                skipped = dense == "lenet5_relu" and ratio == 0.5 and seed == 0
                rows.append(
                    row(
                        experiment="jsv",
                        dense=dense,
                        model=model,
                        activation=act,
                        dataset=dataset,
                        seed=seed,
                        stage="pruned",
                        pruning="l1",
                        method="l1_filter",
                        target_sparsity=ratio,
                        sparsity=ratio * 0.9,
                        test_acc=90 - 50 * ratio,
                        jsv_mean=np.nan if skipped else value * np.exp(rng.normal(0.05, 0.1)),
                        jsv_std=0.1,
                        status="skipped" if skipped else "ok",
                    )
                )
    return frame(rows)


def dyniso_finetune(rng=None) -> pd.DataFrame:
    rng = rng or np.random.default_rng(6)
    rows = []
    branches = {
        "ft_lr2": (0.01, "none", 0.0),
        "ft_lr2_orthp": (0.01, "orthp", 0.2),
        "ft_lr3": (0.001, "none", -2.5),
        "ft_lr3_orthp": (0.001, "orthp", -0.6),
    }
    for dense, model, act, acc in (("mlp7_linear", "mlp7", "linear", 92.0), ("lenet5_relu", "lenet5", "relu", 99.1)):
        for seed in (0, 1, 2):
            rows.append(dense_row(dense, model, "mnist", seed, acc + rng.normal(0, 0.1), activation=act))
            for ratio in (0.8, 0.9):
                base = {
                    "experiment": "finetune_lr",
                    "dense": dense,
                    "model": model,
                    "activation": act,
                    "dataset": "mnist",
                    "seed": seed,
                    "pruning": "l1",
                    "method": "l1_filter",
                    "target_sparsity": ratio,
                    "sparsity": ratio,
                }
                rows.append(row(**base, stage="pruned", test_acc=30.0))
                for branch, (lr, iso, shift) in branches.items():
                    diverged = branch == "ft_lr2" and ratio == 0.9 and seed == 2 and model == "mlp7"
                    rows.append(
                        _branch(
                            base,
                            branch,
                            "finetune",
                            np.nan if diverged else acc - 1.5 * ratio + shift + rng.normal(0, 0.15),
                            branch_lr=lr,
                            isometry=iso,
                            status="diverged" if diverged else "ok",
                        )
                    )
    return frame(rows)


DEMO_METHODS = {
    "magnitude": ("magnitude", "global"),
    "magnitude_layerwise": ("magnitude", "layerwise"),
    "random": ("random", "global"),
    "sipp_det": ("sipp_det", None),
    "sipp_rand": ("sipp_rand", None),
    "sipp_hybrid": ("sipp_hybrid", None),
    "obd": ("obd", None),
    "lm": ("lm", None),
    "qm": ("qm", None),
    "lobs": ("lobs", "layerwise"),
    "woodfisher": ("woodfisher", None),
}
DEMO_BRANCHES = {
    "finetune": "finetune",
    "rewind": "rewind_weights",
    "lr_rewind": "rewind_lr",
    "lottery": "lottery",
    "reinit": "reinit",
    "scratch_e": "scratch_e",
    "scratch_b": "scratch_b",
}


def demo_like(rng=None) -> pd.DataFrame:
    """The demo's config names: 11 methods fine-tuned within half a point of each other except random at 97 %
    (which collapses), every branch type after magnitude pruning, and IMP at the branches' sparsities."""
    rng = rng or np.random.default_rng(7)
    rows = []
    for seed in (1, 2, 3):
        rows.append(dense_row("lenet", "lenet_300_100", "digits", seed, 97.4 + rng.normal(0, 0.1)))
        for i, (pruning, (method, scope)) in enumerate(DEMO_METHODS.items()):
            for s in (0.5, 0.9, 0.97):
                base = {
                    "experiment": "methods",
                    "dense": "lenet",
                    "model": "lenet_300_100",
                    "dataset": "digits",
                    "seed": seed,
                    "pruning": pruning,
                    "method": method,
                    "scope": scope,
                    "target_sparsity": s,
                    "sparsity": s,
                }
                drop = 60.0 if method == "random" and s == 0.97 else 0.05 * i * s
                rows.append(_branch(base, "finetune", "finetune", 97.2 - drop + rng.normal(0, 0.1)))
        for s in (0.8, 0.95):
            base = {
                "experiment": "branches",
                "dense": "lenet",
                "model": "lenet_300_100",
                "dataset": "digits",
                "seed": seed,
                "pruning": "magnitude",
                "method": "magnitude",
                "scope": "global",
                "target_sparsity": s,
                "sparsity": s,
            }
            for j, (branch, kind) in enumerate(DEMO_BRANCHES.items()):
                rows.append(_branch(base, branch, kind, 96.0 - 0.3 * j * s + rng.normal(0, 0.1)))
        for level, s in enumerate((0.5, 0.8, 0.95), start=1):
            base = {
                "experiment": "imp",
                "dense": "lenet",
                "model": "lenet_300_100",
                "dataset": "digits",
                "seed": seed,
                "pruning": "magnitude",
                "method": "magnitude",
                "scope": "global",
                "level": level,
                "target_sparsity": s,
                "sparsity": s,
            }
            rows.append(_branch(base, "rewind", "rewind_weights", 96.5 - s + rng.normal(0, 0.1)))
            rows.append(_branch(base, "reinit", "reinit", 95.5 - 2 * s + rng.normal(0, 0.1)))
    return frame(rows)
