"""Wang et al. 2021, "Dynamical Isometry": pruning breaks isometry (mean JSV falls with the pruning ratio),
fine-tuning at LR 1e-2 beats 1e-3, and restoring isometry (OrthP) shrinks that gap on MLP-7 linear.
(OrthP restoring isometry exactly is true by construction and tested as an oracle, not a claim.)"""

from __future__ import annotations

from prunelab.replication.claim import Claim, Select, Setting
from prunelab.replication.references import WANG

SETTING = Setting(
    ("mnist",),
    None,
    2,
    "MNIST at 32×32; fine-tune 90 epochs (LR 1e-2 ×0.1 at 30/60, LR 1e-3 ×0.1 "
    "at 45); two runs in the plotting script; base training not found",
)
PAPER = "P: abstract; V:S5 (the authors' scripts)"
STRICT = "0: a strict improvement"
FINETUNE = Select.of(stage="branch", branch_type="finetune")


def _ft(lr: float, isometry: str) -> Select:
    return Select.of(branch_lr=lr, isometry=isometry)


CLAIMS = [
    Claim(
        "wang_jsv_decreasing",
        WANG,
        "figure: mean JSV vs pruning ratio",
        "mean JSV right after L1 filter pruning falls as the pruning ratio grows",
        "jsv_mean",
        "decreasing",
        ((1.0, Select.of()),),
        0.0,
        "0: strictly falling at every step",
        PAPER,
        SETTING,
        Select.of(stage="pruned", method=("l1_filter", "l1_blocks")),
        ("model", "activation", "dataset"),
        along="target_sparsity",
    ),
    Claim(
        "wang_lr_1e2_beats_1e3",
        WANG,
        "tables: fine-tuning LR",
        "fine-tuning at LR 1e-2 beats LR 1e-3 (no OrthP)",
        "test_acc",
        "at_least",
        ((1.0, _ft(0.01, "none")), (-1.0, _ft(0.001, "none"))),
        0.0,
        STRICT,
        PAPER,
        SETTING,
        FINETUNE,
        ("model", "activation", "dataset", "target_sparsity"),
    ),
    Claim(
        "wang_orthp_shrinks_gap",
        WANG,
        "tables: fine-tuning LR with OrthP",
        "on MLP-7 linear, OrthP shrinks the LR 1e-2 − LR 1e-3 gap: gap without OrthP − gap with OrthP > 0",
        "test_acc",
        "at_least",
        ((1.0, _ft(0.01, "none")), (-1.0, _ft(0.001, "none")), (-1.0, _ft(0.01, "orthp")), (1.0, _ft(0.001, "orthp"))),
        0.0,
        STRICT,
        PAPER,
        SETTING,
        Select.of(stage="branch", branch_type="finetune", model="mlp7", activation="linear"),
        ("model", "activation", "dataset", "target_sparsity"),
    ),
]
