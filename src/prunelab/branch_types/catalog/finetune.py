"""Fine-tuning: keep training the pruned weights with a short, constant, small learning rate (Liu, Renda)."""

from prunelab.branch_types.base import BranchStart, BranchType, StartContext

# what fine-tuning changes in the dense run's training settings before the branch's own `train` applies
DEFAULTS = {
    "epochs": 5,
    "lr": 0.001,
    "schedule": {"name": "constant", "milestones": [], "gamma": 0.1, "min_lr": 0},
    "warmup_epochs": 0,
}


def start(ctx: StartContext) -> BranchStart:
    return BranchStart(ctx.pruned_state, ctx.train, 0, None, {}, "the pruned weights, schedule from iteration 0")


BRANCH_TYPE = BranchType(
    name="finetune",
    label="fine-tuned",
    start=start,
    train_defaults=DEFAULTS,
    doc="Starts from the pruned weights (for the OBS family: their updated weights); its own schedule from "
    "iteration 0, by default 5 epochs at a constant LR of 1e-3; as long as its train.epochs.",
)
