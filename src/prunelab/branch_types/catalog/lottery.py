"""The lottery ticket (Frankle & Carbin): weight rewinding all the way back to the initialisation, θ_0 ⊙ m."""

from prunelab.branch_types.base import BranchType
from prunelab.branch_types.catalog.rewind_weights import start

BRANCH_TYPE = BranchType(
    name="lottery",
    label="trained from θ0 ⊙ m",
    start=start,
    fixed_rewind="0it",
    from_snapshot=True,
    doc="Starts from θ_0 ⊙ m, the dense run's initial weights; the whole original schedule; T iterations.",
)
