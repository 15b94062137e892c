"""Jobs: the three run kinds (``kinds``: dense, prune, branch), seeds of one config trained as one stacked job
(``grouped_run``), imported dense weights loaded (``imported``) and how a job runs on its machine (``runtime``:
device, threads, checkpoints; never hashed).

A job reads its parents' records, computes with ``training``, ``pruning`` and ``branch_types``, and writes its
outputs through ``records``. May import ``plan`` and every stage below it; only ``cli`` imports it.
"""
