"""Pruning methods: one implementation module per method, declared by a torch-free module of
:mod:`prunelab.pruning.catalog` exporting ``METHOD``, found by module discovery.

A method either *scores* (``score(ctx, **hparams) -> {name: tensor}``, lower = prune first; the shared
selector in :mod:`prunelab.pruning.select` picks the mask) or, when selection and weight updates are
intertwined (greedy exact OBS, SiPP's sampling), *prunes* (``prune(ctx, **hparams) -> (Mask, updates)``).
Adding a method is adding its module and its declaration; no Snakemake rule or registry edit is needed.

Layer: may import ``metrics``, ``training``, ``data``, ``models``, ``records``, ``config`` and the shared
modules; independent of ``branch_types``.
"""

from __future__ import annotations

from prunelab.pruning.base import Method, PruneContext, get_method, methods, resolve_hparams

__all__ = ["Method", "PruneContext", "methods", "get_method", "resolve_hparams"]
