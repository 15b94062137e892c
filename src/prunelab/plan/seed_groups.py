"""Seed groups: the dense runs of a plan that differ only in their seeds, trained by one job when grouped.

With ``runtime.group_seeds: true`` the workflow trains each group with one ``train_group`` job instead of
one ``train`` job per run (:mod:`prunelab.jobs.grouped_run`). Grouping is how runs are computed, never what they
are: every member keeps its own spec, hash and run directory, so switching grouping on or off renames
nothing and reruns nothing. A group is named by the hash of its sorted member hashes, which is therefore
stable under config reordering and changes exactly when membership does.
"""

from __future__ import annotations

import hashlib

from prunelab.data.catalog import STREAMED
from prunelab.errors import ConfigError
from prunelab.records.hashing import HASH_LENGTH, canonical_json


def group_hash(members: list[str]) -> str:
    """16 hex digits of the sha256 of the sorted member run hashes, one per line."""
    return hashlib.sha256("\n".join(sorted(members)).encode("ascii")).hexdigest()[:HASH_LENGTH]


def without_seed(spec: dict) -> str:
    """The canonical JSON of a dense spec minus its seeds: what all members of a group share."""
    return canonical_json({key: value for key, value in spec.items() if key != "seed"})


def seed_groups(specs: dict[str, dict]) -> dict[str, list[str]]:
    """``{group hash: sorted member run hashes}`` over the dense specs of ``specs`` (hash → spec).

    Every dense run is in exactly one group; a run without seed siblings is a group of one. Lockstep training
    is for small in-memory nets: an imported dense run (``checkpoint``) trains nothing and a streamed dataset
    (ImageNet) fills a GPU alone, so either is refused with one line.
    """
    by_shared: dict[str, list[str]] = {}
    for run_hash, spec in specs.items():
        if spec["kind"] == "dense" and ("checkpoint" in spec or spec["dataset"]["name"] in STREAMED):
            reason = "imports its weights" if "checkpoint" in spec else f"streams '{spec['dataset']['name']}'"
            raise ConfigError(
                f"runtime.group_seeds: dense run {run_hash} {reason}, which seed groups do not "
                f"support; set runtime.group_seeds: false"
            )
        if spec["kind"] == "dense":
            by_shared.setdefault(without_seed(spec), []).append(run_hash)
    return {group_hash(members): sorted(members) for members in by_shared.values()}
