"""Published numbers of the four papers, each with its citation and its evidence tag (docs/methods.md §0, §4).

Only what someone has checked against a source may be drawn as "published": values tagged ``V:Sx`` (read in
a source file) have ``unverified=False``; values recalled from a paper (tag ``R``) are kept for whoever gets
the PDFs but carry ``unverified=True`` and every accessor that feeds a figure leaves them out. These numbers
are targets to compare with, never inputs: nothing in prunelab fits or tunes anything to them.

Keys use prunelab's own names (model zoo names, dataset names, branch types), so a figure matches a published
value to its own rows by plain equality.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

LIU = "Liu et al. 2019, Rethinking the Value of Network Pruning (ICLR)"
RENDA = "Renda et al. 2020, Comparing Rewinding and Fine-tuning in Neural Network Pruning (ICLR)"
WANG = "Wang et al. 2021, Dynamical Isometry: The Missing Ingredient for Neural Network Pruning"

# docs/methods.md §0: the sources behind the tags
S4_GEN = (
    "V:S4 (Renda et al. transcription of Liu Table 1: lottery-ticket/rewinding-iclr20-public @273e67d8b4f9 "
    "vision/plot/gen.py)"
)
S5_JSV = (
    "V:S5 (MingSun-Tse/Smile-Pruning @03c071b93d67 tools/iccv21_latex_plots/plot_jsv_wrt_pruning_ratio.py, "
    "two runs hard-coded)"
)
RECALLED = "R (recalled from the paper, not verified against the PDF)"


@dataclass(frozen=True)
class Published:
    """One published number: ``value`` (± ``std`` where the paper gives one) of ``quantity`` at ``labels``."""

    quantity: str  # test_acc (%), scratch_b_epoch_factor, param_density, jsv_mean
    labels: tuple[tuple[str, object], ...]
    value: float
    std: float | None
    paper: str
    citation: str  # where in the paper (table / figure)
    source: str  # docs/methods.md §0 tag and the file it was read from
    unverified: bool

    def row(self) -> dict:
        return {
            **dict(self.labels),
            "quantity": self.quantity,
            "value": self.value,
            "std": self.std,
            "paper": self.paper,
            "citation": self.citation,
            "source": self.source,
            "unverified": self.unverified,
        }


def _liu(
    model: str, dataset: str, architecture: str, column: str, value: float, std: float | None, source: str = S4_GEN
) -> Published:
    return Published(
        "test_acc",
        (("model", model), ("dataset", dataset), ("architecture", architecture), ("column", column)),
        value,
        std,
        LIU,
        "Table 1",
        source,
        source == RECALLED,
    )


# Liu et al. Table 1 (L1-norm filter pruning, test accuracy %, mean ± std). The fine-tuned column and the
# VGG-16 row were never checked against the paper (docs/methods.md §4.1): tagged R.
_LIU_TABLE1 = [
    ("resnet56", "cifar10", "A", 93.14, 0.12, (92.97, 0.17), (92.96, 0.26), (93.09, 0.14)),
    ("resnet56", "cifar10", "B", 93.14, 0.12, (92.67, 0.14), (92.54, 0.19), (93.05, 0.18)),
    ("resnet110", "cifar10", "A", 93.14, 0.24, (93.14, 0.16), (93.25, 0.29), (93.22, 0.22)),
    ("resnet110", "cifar10", "B", 93.14, 0.24, (92.69, 0.09), (92.89, 0.43), (93.60, 0.25)),
    ("resnet34", "imagenet", "A", 73.31, None, (72.56, None), (72.77, None), (73.03, None)),
    ("resnet34", "imagenet", "B", 73.31, None, (72.29, None), (72.55, None), (72.91, None)),
]
_LIU_VGG16_RECALLED = [
    ("unpruned", 93.63, 0.16),
    ("finetune", 93.41, 0.12),
    ("scratch_e", 93.62, 0.11),
    ("scratch_b", 93.78, 0.15),
]

# Scratch-B training budget F_dense/F_pruned − 1 and Renda's parameter densities of the same pruned nets
_LIU_EPOCH_FACTOR = {
    ("resnet56", "A"): 0.1156411502,
    ("resnet56", "B"): 0.3791088785,
    ("resnet110", "A"): 0.1882836396,
    ("resnet110", "B"): 0.6272741807,
    ("resnet34", "A"): 0.1819645733,
    ("resnet34", "B"): 0.3154121864,
}
_RENDA_DENSITY = {
    ("resnet56", "A"): 0.9209,
    ("resnet56", "B"): 0.8712,
    ("resnet110", "A"): 0.9773,
    ("resnet110", "B"): 0.6876,
    ("resnet34", "A"): 0.9246,
    ("resnet34", "B"): 0.8937,
}
_DATASET = {"resnet56": "cifar10", "resnet110": "cifar10", "resnet34": "imagenet"}

# Wang et al.: mean JSV right after L1 filter pruning vs pruning ratio, two runs per network
WANG_RATIOS = (0.0, 0.1, 0.3, 0.5, 0.7, 0.9)
_WANG_JSV_RUNS = {
    ("mlp7", "linear"): (
        [2.4987, 1.7132, 0.5325, 0.1180, 0.0151, 0.0004],
        [2.4987, 1.7132, 0.5325, 0.1180, 0.0151, 0.0004],
    ),
    ("mlp7", "relu"): (
        [1.8265, 1.6664, 1.2583, 0.6295, 0.1334, 0.0055],
        [1.8286, 1.6668, 1.2600, 0.6257, 0.1345, 0.0057],
    ),
    ("lenet5", "linear"): (
        [3.7455, 3.3744, 2.5529, 1.5176, 0.4221, 0.1126],
        [3.7437, 3.3700, 2.5503, 1.5162, 0.4228, 0.1127],
    ),
    ("lenet5", "relu"): (
        [3.0128, 2.8606, 2.5970, 1.8385, 0.6943, 0.1847],
        [2.9976, 2.8640, 2.5934, 1.8470, 0.6956, 0.1853],
    ),
}


def _all() -> list[Published]:
    values: list[Published] = []
    for model, dataset, arch, unpruned, unpruned_std, ft, scratch_e, scratch_b in _LIU_TABLE1:
        values.append(_liu(model, dataset, arch, "unpruned", unpruned, unpruned_std))
        values.append(_liu(model, dataset, arch, "finetune", *ft, source=RECALLED))
        values.append(_liu(model, dataset, arch, "scratch_e", *scratch_e))
        values.append(_liu(model, dataset, arch, "scratch_b", *scratch_b))
    for column, value, std in _LIU_VGG16_RECALLED:
        values.append(_liu("vgg16", "cifar10", "A", column, value, std, source=RECALLED))
    for (model, arch), factor in _LIU_EPOCH_FACTOR.items():
        values.append(
            Published(
                "scratch_b_epoch_factor",
                (("model", model), ("dataset", _DATASET[model]), ("architecture", arch)),
                factor,
                None,
                LIU,
                "Table 1 (Scratch-B budget F_dense/F_pruned − 1)",
                S4_GEN,
                False,
            )
        )
    for (model, arch), density in _RENDA_DENSITY.items():
        values.append(
            Published(
                "param_density",
                (("model", model), ("dataset", _DATASET[model]), ("architecture", arch)),
                density,
                None,
                RENDA,
                "plot positions of Liu et al.'s pruned nets (Renda's own count; a loose ±2% check of the A/B configs)",
                S4_GEN,
                False,
            )
        )
    for (model, act), runs in _WANG_JSV_RUNS.items():
        for run, series in enumerate(runs, start=1):
            for ratio, value in zip(WANG_RATIOS, series):
                values.append(
                    Published(
                        "jsv_mean",
                        (
                            ("model", model),
                            ("activation", act),
                            ("dataset", "mnist"),
                            ("pruning_ratio", ratio),
                            ("run", run),
                        ),
                        value,
                        None,
                        WANG,
                        "figure: mean JSV vs pruning ratio (figure number not verified)",
                        S5_JSV,
                        False,
                    )
                )
    return values


PUBLISHED: tuple[Published, ...] = tuple(_all())


def table(quantity: str | None = None, verified_only: bool = True) -> pd.DataFrame:
    """All published values (of ``quantity``) as a DataFrame; unverified ones only if asked for."""
    rows = [
        p.row()
        for p in PUBLISHED
        if (quantity is None or p.quantity == quantity) and not (verified_only and p.unverified)
    ]
    frame = pd.DataFrame(rows)
    frame["std"] = frame["std"].astype(float)  # None (no std published) → NaN
    return frame


def liu_table1(verified_only: bool = True) -> pd.DataFrame:
    """Liu et al. Table 1: model, dataset, architecture, column (unpruned/finetune/scratch_e/scratch_b), value, std."""
    return table("test_acc", verified_only)


def liu_epoch_factors() -> pd.DataFrame:
    """Scratch-B epoch factor F_dense/F_pruned − 1 per (model, dataset, architecture)."""
    return table("scratch_b_epoch_factor")


def wang_jsv() -> pd.DataFrame:
    """Mean JSV per (model, activation, dataset, pruning_ratio): mean and std of the two published runs.

    The std is the population std (ddof=0) of the two runs, as the authors' plotting script computes it.
    """
    runs = table("jsv_mean")
    keys = ["model", "activation", "dataset", "pruning_ratio"]
    grouped = runs.groupby(keys, sort=True)
    out = grouped.agg(
        value=("value", "mean"),
        runs=("value", "size"),
        paper=("paper", "first"),
        citation=("citation", "first"),
        source=("source", "first"),
    )
    out["std"] = grouped["value"].agg(lambda v: float(np.std(v.to_numpy(), ddof=0)))
    return out.reset_index()
