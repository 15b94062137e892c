"""Learning-rate rewinding (Renda et al.): the pruned weights, retrained on the original schedule from step k."""

from prunelab.branch_types.base import BranchStart, BranchType, StartContext


def start(ctx: StartContext) -> BranchStart:
    k, at = ctx.rewind_iteration()
    return BranchStart(
        ctx.pruned_state,
        ctx.train,
        k,
        None,
        {"rewind_iteration": k},
        f"the pruned weights, learning-rate schedule rewound to {at}",
    )


BRANCH_TYPE = BranchType(
    name="rewind_lr",
    label="LR rewinding",
    start=start,
    takes_rewind=True,
    doc="Starts from the pruned weights; the original schedule resumed at the rewind point k; T − k iterations.",
)
