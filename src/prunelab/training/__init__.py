"""Training: the one loop (``loop``) with its bodies (``single_model``: one model; ``stacked``: K seeds stacked
into one model), LR schedules and iteration arithmetic (``schedules``), masks and their invariant
(``masks``), speed switches (``acceleration``) and multi-GPU training (``distributed``).

May import ``data``, ``models``, ``records``, ``config`` and the shared modules; pruning, branch types and
jobs build on it.
"""
