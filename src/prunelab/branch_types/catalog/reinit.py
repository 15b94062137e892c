"""Random re-initialisation (the lottery ticket's control): a new draw of the dense init, masked."""

from prunelab.branch_types.base import BranchStart, BranchType, StartContext


def start(ctx: StartContext) -> BranchStart:
    from prunelab.branch_types.starts import fresh_model  # torch: only when a job starts the branch

    return ctx.fresh(fresh_model(ctx).state_dict())


BRANCH_TYPE = BranchType(
    name="reinit",
    label="trained from a random re-init ⊙ m",
    start=start,
    doc="Starts from a new initialisation (the branch's init seed) ⊙ m; the whole original schedule; T iterations.",
)
