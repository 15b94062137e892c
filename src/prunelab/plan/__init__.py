"""Planning: a validated config expanded into run specs (``build``), stored once built (``cache``), what each
run asks a cluster for (``resources``, ``slurm``), which seeds train together (``seed_groups``) and the hash of an
imported dense checkpoint (``checkpoint_hash``).

Torch-free: the Snakefile is parsed on login nodes and once in every job. Reads the registries of pruning
methods, branch types and figure types from the stages below; may import anything below ``jobs``.
"""
