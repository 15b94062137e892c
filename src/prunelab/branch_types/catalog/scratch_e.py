"""Scratch-E (Liu et al.): the pruned architecture trained from scratch for as many epochs as the dense net."""

from prunelab.branch_types.base import BranchStart, BranchType, StartContext


def start(ctx: StartContext) -> BranchStart:
    from prunelab.branch_types.starts import fresh_model  # torch: only when a job starts the branch

    return ctx.fresh(fresh_model(ctx, sparse_scaled=True).state_dict())


BRANCH_TYPE = BranchType(
    name="scratch_e",
    label="Scratch-E",
    start=start,
    # the sparse-scaled init changes conv layers only: without them this is a reinit, and shares its run
    without_conv="reinit",
    doc="Starts from a new initialisation ⊙ m, sparse conv layers drawn with Liu et al.'s sparse-scaled std; "
    "the whole original schedule; E epochs, those of the dense run.",
)
