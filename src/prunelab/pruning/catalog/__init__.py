"""What planning knows of each pruning method: one torch-free module per implementation module.

Each module here exports ``METHOD = Method(...)`` (or ``METHODS`` for variants): the name, the JSON-schema
fragment of its hyperparameters (types, bounds, defaults, descriptions) and what data the method needs.
Planning, ``prunelab audit`` and ``prunelab methods`` read only these, so they run without importing torch;
the scorer in ``prunelab.pruning.<module>`` is imported when a job computes
(:attr:`~prunelab.pruning.base.Method.score`).
"""

# The locality penalty ½λθ² of Laurent et al.'s criteria, declared once for every method that adds it.
LOCALITY = {
    "type": "number",
    "minimum": 0,
    "default": 0.0,
    "description": "λ of the locality penalty ½λθ² added to the score",
}

# How the layer- or block-wise OBS variants (L-OBS, WoodFisher) compensate the kept weights for the pruned ones.
COMPENSATION = {
    "enum": ["joint", "independent", "none"],
    "default": "joint",
    "description": "weight update of the kept weights for the pruned ones: joint (all pruned at once), "
    "independent (each pruned weight's OBS update, summed) or none",
}

# torchprune's step after every pruning (docs/methods.md §2.9): zero what has exactly zero gradient over SiPP's set S,
# then refill the budget. On for SiPP; for its baselines a spec key only where set, so other runs keep their hashes.
PROPAGATE = {
    "type": "boolean",
    "description": "after pruning, zero every parameter whose gradient over the set S is exactly 0 "
    "(torchprune's propagation) and refill the kept count to the target",
}
PROPAGATE_OPTIONAL = {**PROPAGATE, "default": False, "omitted_at_default": True}
