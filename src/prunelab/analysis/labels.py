"""Human names for config values in legends, titles and ticks (one place, so all figures agree)."""

from __future__ import annotations

import pandas as pd

BRANCH_TYPE = {"finetune": "fine-tuned", "scratch_e": "Scratch-E", "scratch_b": "Scratch-B",
               "lottery": "winning ticket (lottery)", "rewind_weights": "winning ticket (rewind)",
               "rewind_lr": "LR rewinding", "reinit": "random re-init"}
ISOMETRY = {"none": "no isometry recovery", "orthp": "OrthP", "ai": "approximate isometry"}


def network(row: pd.Series) -> str:
    """``resnet56 on cifar10`` or ``mlp7-linear on mnist``."""
    activation = f"-{row['activation']}" if isinstance(row.get("activation"), str) else ""
    return f"{row['model']}{activation} on {row['dataset']}"


def dense_title(rows: pd.DataFrame, dense: str) -> str:
    """Panel title for the runs of dense config ``dense``: the network, and the config name when it says more."""
    first = rows[rows["dense"] == dense].iloc[0]
    return f"{network(first)} ({dense})"


def pruning(name: str, method: str) -> str:
    return name if name == method else f"{name} ({method})"


def lr(value: float) -> str:
    return f"LR {value:g}"
