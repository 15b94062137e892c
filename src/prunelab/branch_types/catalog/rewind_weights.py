"""Weight rewinding (Frankle et al., Renda et al.): the dense run's weights at step k, masked, retrained."""

from prunelab.branch_types.base import BranchStart, BranchType, StartContext
from prunelab.errors import CheckpointError


def start(ctx: StartContext) -> BranchStart:
    """θ_k ⊙ m from the dense run's snapshot at k (its optimizer state too with ``optimizer_state: rewind``)."""
    k, at = ctx.rewind_iteration()
    if ctx.snapshots is None or k not in ctx.snapshots:
        saved = sorted(ctx.snapshots or {})
        raise CheckpointError(
            f"branch '{ctx.spec['type']}' needs the dense run's weights at iteration {k} "
            f"({ctx.spec['rewind']}), but it saved only iterations {saved}; add "
            f"'{ctx.spec['rewind']}' to the dense config's train.save_at (its hash changes)"
        )
    rewound = ctx.spec.get("optimizer_state") == "rewind"
    optimizer_state = ctx.snapshots[k]["optimizer"] if rewound else None
    return BranchStart(
        ctx.snapshots[k]["model"],
        ctx.train,
        k,
        optimizer_state,
        {"rewind_iteration": k},
        f"weights rewound to {at}: the dense run's snapshot of iteration {k}, with "
        + ("its optimizer state" if rewound else "a fresh optimizer state"),
    )


BRANCH_TYPE = BranchType(
    name="rewind_weights",
    label="trained from θk ⊙ m (weight rewinding)",
    start=start,
    takes_rewind=True,
    from_snapshot=True,
    doc="Starts from θ_k ⊙ m, the dense run's weights at the rewind point k; the original schedule resumed at "
    "k; T − k iterations.",
)
