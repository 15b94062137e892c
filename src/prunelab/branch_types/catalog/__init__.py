"""One module per branch type, each declaring its ``BRANCH_TYPE`` (label, config rules, training defaults and
the ``start`` a branch job calls); discovered, so adding a type is adding a module here. Torch-free at import:
a type's ``start`` imports the torch helpers of ``prunelab.branch_types.starts`` when a job calls it."""
