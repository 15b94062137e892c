"""Branch types: what is trained after a mask is chosen (docs/methods.md §3), one module per type in
``catalog/``, beside the torch helpers every start shares (``starts``: fresh and Scratch inits, ``branch_start``;
``isometry``: OrthP and approximate isometry).

Each catalog module exports ``BRANCH_TYPE = BranchType(...)``: its name, the label readers see, what it starts from,
its schedule and length (``doc``), the rules planning applies to its config, and the ``start`` a branch job
calls (through :func:`prunelab.branch_types.starts.branch_start`). :func:`branch_types` finds the modules, so adding a
type is adding its module; the schema, the planner, the jobs and the figures' labels read this registry.

| type           | starting weights                         | schedule                         | length         |
|----------------|------------------------------------------|----------------------------------|----------------|
| finetune       | pruned weights (OBS-family: updated)     | the branch's own (constant LR)   | its epochs     |
| rewind_weights | θ_k ⊙ m from the dense run               | original, resumed at k           | T − k          |
| rewind_lr      | pruned weights                           | original, resumed at k           | T − k          |
| lottery        | θ_0 ⊙ m                                  | original                         | T              |
| reinit         | fresh init (new seed) ⊙ m                | original                         | T              |
| scratch_e      | fresh sparse-scaled init ⊙ m             | original                         | T              |
| scratch_b      | fresh sparse-scaled init ⊙ m             | stretched by FLOPs ratio         | ⌊E·F_d/F_p⌋ ep |

Every branch builds a fresh optimizer (unless ``optimizer_state: rewind`` restores the dense run's at k)
and trains under the mask invariant. Nothing here imports torch until a ``start`` runs.

Layer: may import ``metrics``, ``training``, ``models``, ``data``, ``records``, ``config`` and the shared
modules (torch only in ``starts`` and ``isometry``, which the catalog's ``start`` functions import when called);
independent of ``pruning``.
"""

from prunelab.branch_types.base import BranchStart, BranchType, StartContext, branch_types, get_branch_type

__all__ = ["BranchStart", "BranchType", "StartContext", "branch_types", "get_branch_type"]
