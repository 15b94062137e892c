"""Liu et al. 2019, "Rethinking the Value of Network Pruning": training the pruned architecture from scratch
is comparable to fine-tuning, and the lottery ticket's init only matters at a small learning rate."""

from __future__ import annotations

from prunelab.replication.claim import AtLeast, AtMost, Claim, Extreme, Select, Setting
from prunelab.replication.references import LIU

STRUCTURED = ("l1_filter", "l1_blocks")
CIFAR = Setting(
    ("cifar10",),
    160,
    5,
    "SGD LR 0.1 ×0.1 at 80/120, batch 64; fine-tune 40 epochs at LR 1e-3; 5 runs recalled, not verified",
)
PAPER = "P: Liu et al.'s stated claims (abstract, §4)"
COMPARABLE = (
    "0.5 pp: larger than every seed std in Table 1's verified cells (at most 0.43 pp), so a difference "
    "inside it is within the paper's own run-to-run spread"
)
STRICT = "0: a strict improvement"


def _ticket(id, statement, sides, tolerance, source, scope) -> Claim:
    return Claim(
        id,
        LIU,
        "§ lottery-ticket comparison (VGG-16, CIFAR-10)",
        statement,
        "test_acc",
        "at_least",
        sides,
        tolerance,
        source,
        PAPER,
        CIFAR,
        scope,
        ("model", "dataset", "method", "hparams", "level", "target_sparsity"),
    )


_IMP = Select.of(stage="branch", method="magnitude", level=AtLeast(1))
_LOTTERY, _REINIT = "lottery", "reinit"
SCRATCH_B_MINUS_FINETUNE = ((1.0, Select.of(branch_type="scratch_b")), (-1.0, Select.of(branch_type="finetune")))

CLAIMS = [
    Claim(
        "liu_scratch_b_vs_finetune",
        LIU,
        "Table 1 (every row)",
        "structured pruning: Scratch-B is comparable to or better than fine-tuning the pruned net",
        "test_acc",
        "at_least",
        SCRATCH_B_MINUS_FINETUNE,
        0.5,
        COMPARABLE,
        PAPER,
        CIFAR,
        Select.of(stage="branch", method=STRUCTURED),
        ("model", "dataset", "method", "hparams", "target_sparsity"),
    ),
    Claim(
        "liu_weight_level_scratch_b",
        LIU,
        "§ weight-level pruning (accuracy vs prune ratio)",
        "unstructured magnitude pruning at moderate ratios (≤ 50 %): Scratch-B ≈ fine-tuned",
        "test_acc",
        "equivalent",
        SCRATCH_B_MINUS_FINETUNE,
        0.5,
        COMPARABLE,
        "R: trend recalled (Scratch-B ≈ fine-tuned at 30 %), not verified",
        CIFAR,
        Select.of(stage="branch", method="magnitude", level=0, target_sparsity=AtMost(0.5)),
        ("model", "dataset", "target_sparsity"),
    ),
    _ticket(
        "liu_ticket_small_lr",
        "IMP at the small initial LR: the winning ticket beats random re-init",
        (
            (1.0, Select.of(branch_type=_LOTTERY, dense_lr=Extreme("min"))),
            (-1.0, Select.of(branch_type=_REINIT, dense_lr=Extreme("min"))),
        ),
        0.0,
        STRICT,
        _IMP,
    ),
    _ticket(
        "liu_ticket_large_lr_no_gain",
        "IMP at the large initial LR: the winning ticket gives no gain over random re-init",
        (
            (1.0, Select.of(branch_type=_REINIT, dense_lr=Extreme("max"))),
            (-1.0, Select.of(branch_type=_LOTTERY, dense_lr=Extreme("max"))),
        ),
        0.5,
        COMPARABLE,
        _IMP,
    ),
    _ticket(
        "liu_ticket_below_large_lr",
        "IMP: the ticket at the small LR stays below random re-init trained at the large LR",
        (
            (1.0, Select.of(branch_type=_REINIT, dense_lr=Extreme("max"))),
            (-1.0, Select.of(branch_type=_LOTTERY, dense_lr=Extreme("min"))),
        ),
        0.0,
        STRICT,
        _IMP,
    ),
    Claim(
        "liu_structured_ticket_no_gain",
        LIU,
        "§ lottery-ticket comparison (structured pruning)",
        "structured pruning: the winning ticket gives no gain over random re-init, at either LR",
        "test_acc",
        "at_least",
        ((1.0, Select.of(branch_type=_REINIT)), (-1.0, Select.of(branch_type=_LOTTERY))),
        0.5,
        COMPARABLE,
        PAPER,
        CIFAR,
        Select.of(stage="branch", method=STRUCTURED),
        ("model", "dataset", "dense_lr", "method", "hparams", "level", "target_sparsity"),
    ),
]
