"""Every verified published number (analysis/references.py, ``unverified=False``) as an equivalence claim:
ours − published within ±tolerance. Unverified (recalled) numbers stay out. A published mean ± std over k
runs enters as a standard error; a number without a std as exact.

Liu's pruned architectures A/B are matched by their l1_blocks hyperparameters (stage ratios and skipped layers,
docs/methods.md §4.1), so any suite that prunes a ResNet to exactly that architecture is compared.
"""

from __future__ import annotations

import numpy as np

from prunelab.replication import references
from prunelab.replication.claim import Claim, Select, Setting, Target
from prunelab.replication.papers.liu import COMPARABLE

# (model, architecture) → l1_blocks hyperparameters; ResNet-34's (ImageNet) layer rule is not defined here
ARCHITECTURES = {
    ("resnet56", "A"): {"hp_stage_ratios": (0.1, 0.1, 0.1), "hp_skip": (16, 20, 38, 54)},
    ("resnet56", "B"): {"hp_stage_ratios": (0.6, 0.3, 0.1), "hp_skip": (16, 18, 20, 34, 38, 54)},
    ("resnet110", "A"): {"hp_stage_ratios": (0.5, 0.0, 0.0), "hp_skip": (36,)},
    ("resnet110", "B"): {"hp_stage_ratios": (0.5, 0.4, 0.3), "hp_skip": (36, 38, 74)},
}
UNDEFINED = {"architecture": "not defined in prunelab"}  # no table column: such a claim reads "not run"
LIU_RUNS, LIU_RUNS_SOURCE = 5, "; k recalled, not verified"
SETTINGS = {
    "cifar10": Setting(("cifar10",), 160, 5, "SGD LR 0.1 ×0.1 at 80/120"),
    "imagenet": Setting(("imagenet",), 90, None, "90 epochs"),
    "mnist": Setting(("mnist",), None, 2, "MNIST at 32×32, trained base models; two runs"),
}
JSV_TOLERANCE = (
    "20 % of the published value: docs/methods.md §4.3 expects values within about 20 % where the base training matches"
)


def _architecture(model: str, arch: str) -> dict:
    return ARCHITECTURES.get((model, arch), UNDEFINED)


def _liu_accuracy() -> list[Claim]:
    claims, seen = [], set()
    for p in references.PUBLISHED:
        labels = dict(p.labels)
        if p.unverified or p.quantity != "test_acc":
            continue
        model, arch, column = labels["model"], labels["architecture"], labels["column"]
        if column == "unpruned":
            if (model, column) in seen:  # one unpruned number per network, repeated on its A and B rows
                continue
            seen.add((model, column))
            select, what = Select.of(stage="dense", model=model), f"unpruned {model}"
        else:
            select = Select.of(
                stage="branch", model=model, branch_type=column, method="l1_blocks", **_architecture(model, arch)
            )
            what = f"{model}-{arch} {column}"
        runs = LIU_RUNS if p.std is not None else None
        claims.append(
            Claim(
                f"published_liu_{model}_{arch if column != 'unpruned' else ''}_{column}".replace("__", "_"),
                p.paper,
                p.citation,
                f"{what}: test accuracy {p.value:g} %",
                "test_acc",
                "equivalent",
                ((1.0, Select.of()),),
                0.5,
                COMPARABLE,
                p.source,
                SETTINGS[labels["dataset"]],
                select,
                ("model", "dataset"),
                target=Target(p.value, p.std, runs, LIU_RUNS_SOURCE if runs else ""),
            )
        )
    return claims


def _liu_architecture() -> list[Claim]:
    claims = []
    tolerance = {
        "scratch_b_epoch_factor": (
            0.02,
            "±0.02 (2 % of the dense FLOPs): prunelab's allowance for FLOP-counting conventions (which ops count)",
        ),
        "param_density": (0.02, "±0.02: Renda et al.'s positions are a loose ±2 % check (docs/methods.md §4.1)"),
    }
    for p in references.PUBLISHED:
        labels = dict(p.labels)
        if p.unverified or p.quantity not in tolerance:
            continue
        model, arch = labels["model"], labels["architecture"]
        tol, why = tolerance[p.quantity]
        select = Select.of(stage="pruned", model=model, method="l1_blocks", **_architecture(model, arch))
        claims.append(
            Claim(
                f"published_{p.quantity}_{model}_{arch}",
                p.paper,
                p.citation,
                f"{model}-{arch}: {p.quantity} {p.value:g}",
                p.quantity,
                "equivalent",
                ((1.0, Select.of()),),
                tol,
                why,
                p.source,
                SETTINGS[labels["dataset"]],
                select,
                ("model", "dataset"),
                target=Target(p.value, None, None),
            )
        )
    return claims


def _wang_jsv() -> list[Claim]:
    runs = references.table("jsv_mean")
    claims = []
    for (model, activation, ratio), group in runs.groupby(["model", "activation", "pruning_ratio"], sort=True):
        values = group["value"].to_numpy()
        std = float(np.std(values, ddof=1))
        select = Select.of(
            stage="pruned",
            model=model,
            activation=activation,
            method=("l1_filter", "l1_blocks"),
            target_sparsity=float(ratio),
        )
        first = group.iloc[0]
        claims.append(
            Claim(
                f"published_jsv_{model}_{activation}_{ratio:g}",
                first["paper"],
                first["citation"],
                f"{model} ({activation}) mean JSV right after pruning ratio {ratio:g}: {values.mean():.4g}",
                "jsv_mean",
                "equivalent",
                ((1.0, Select.of()),),
                0.2,
                JSV_TOLERANCE,
                first["source"],
                SETTINGS["mnist"],
                select,
                ("model", "activation", "dataset"),
                target=Target(float(values.mean()), std, len(values)),
                relative=True,
            )
        )
    return claims


CLAIMS = [*_liu_accuracy(), *_liu_architecture(), *_wang_jsv()]
