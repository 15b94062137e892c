"""Human names for config values in legends, titles and ticks (one place, so all figures agree).

Config names (``lr_rewind``, ``magnitude_layerwise``) are the user's handles, not words a reader knows: a
series is named after what was done (the method, its scope, the branch type). A config name appears only
where two settings of one figure would otherwise read the same, to tell them apart.
"""

from __future__ import annotations

import pandas as pd

from prunelab.branch_types import branch_types

BRANCH_TYPE = {name: kind.label for name, kind in branch_types().items()}  # declared by each type's module
METHOD = {
    "magnitude": "magnitude",
    "random": "random",
    "snip": "SNIP",
    "grasp": "GraSP",
    "obd": "OBD",
    "obs": "OBS (exact)",
    "lobs": "L-OBS",
    "woodfisher": "WoodFisher",
    "lm": "LM",
    "qm": "QM",
    "sipp_det": "SiPP-det",
    "sipp_rand": "SiPP-rand",
    "sipp_hybrid": "SiPP-hybrid",
    "l1_filter": "L1 filter",
    "l1_blocks": "L1 blocks",
}
SCOPE = {"global": "global", "layerwise": "layer-wise"}
ISOMETRY = {"none": "no isometry recovery", "orthp": "OrthP", "ai": "approximate isometry"}
NO_RETRAINING = "no retraining"


def network(row: pd.Series) -> str:
    """``resnet56 on cifar10`` or ``mlp7-linear on mnist``."""
    activation = f"-{row['activation']}" if isinstance(row.get("activation"), str) else ""
    return f"{row['model']}{activation} on {row['dataset']}"


def dense_title(rows: pd.DataFrame, dense: str) -> str:
    """Panel title for the runs of dense config ``dense``: the network, and the config name when it says more."""
    first = rows[rows["dense"] == dense].iloc[0]
    return f"{network(first)} ({dense})"


def method(name: str) -> str:
    return METHOD.get(name, name)


def branch_type(kind: str) -> str:
    return BRANCH_TYPE.get(kind, kind)


def _distinct(names: list[str], steps: list[dict[str, str]]) -> dict[str, str]:
    """Label each name by joining its description parts step by step, adding a part only to the labels
    that still collide; names whose labels still collide at the end get the config name in brackets."""
    labels = {name: steps[0][name] for name in names}
    for step in steps[1:]:
        clash = pd.Series(labels).duplicated(keep=False)
        labels = {
            name: f"{label}, {step[name]}" if clash[name] and step[name] else label for name, label in labels.items()
        }
    clash = pd.Series(labels, dtype=object).duplicated(keep=False)
    return {name: f"{label} [{name}]" if clash[name] else label for name, label in labels.items()}


def pruning_settings(rows: pd.DataFrame) -> dict[str, str]:
    """Pruning config name → label: the method, then its scope where two settings share a method."""
    settings = rows.dropna(subset=["pruning"]).drop_duplicates("pruning").sort_values("pruning")
    names = list(settings["pruning"])
    scope = [SCOPE.get(s, s) if isinstance(s, str) else "" for s in settings["scope"]]
    return _distinct(names, [dict(zip(names, map(method, settings["method"]))), dict(zip(names, scope))])


def branches(rows: pd.DataFrame) -> dict[str, str]:
    """Branch config name → label: the branch type, and the config name where two branches share a type."""
    settings = rows.dropna(subset=["branch"]).drop_duplicates("branch").sort_values("branch")
    names = list(settings["branch"])
    return _distinct(names, [dict(zip(names, map(branch_type, settings["branch_type"])))])


def branch_key(rows: pd.DataFrame) -> list[str]:
    """The sentence that says what each branch config name of ``rows`` trains (none without branches): where
    a legend names the branches as configured, the reader still learns e.g. that ``rewind`` trains from θk ⊙ m."""
    settings = rows.dropna(subset=["branch"]).drop_duplicates("branch").sort_values("branch")
    if settings.empty:
        return []
    return [
        "Branches: "
        + "; ".join(f"{name} = {branch_type(kind)}" for name, kind in zip(settings["branch"], settings["branch_type"]))
        + "."
    ]


def lr(value: float) -> str:
    return f"LR {value:g}"
