"""Run specs: the plain dicts that decide a result, and the hashes that name their directories.

A run spec holds everything that can change a run's outputs (dataset, model, training hyperparameters,
seeds, and for children the method, its hyperparameters, the sparsity and the parents' hashes), with
every default already resolved. Two configs that resolve to the same spec share one run directory, so
the GPU work behind it is done once; changing any decisive value changes the hash and therefore the
directory, which is what lets Snakemake rerun exactly the affected jobs.

Canonical form: JSON with sorted keys and no whitespace. Integral floats are written as integers so that
``lr: 1`` and ``lr: 1.0`` name the same run; other floats use Python's shortest round-trip ``repr``.
"""

from __future__ import annotations

import hashlib
import json
import math
from typing import Any

from prunelab.errors import ConfigError

HASH_LENGTH = 16

# Fields added after v0.1 that are dropped from the hashed form while they hold their documented default,
# so that run directories created before the field existed keep their names (open_lth does the same).
# Keys are paths into the spec; values are the defaults that were implicitly in force before the field.
LATE_FIELDS: dict[tuple[str, ...], Any] = {
    ("train", "precision"): "fp32",
    ("train", "channels_last"): False,
}


def _canonical_value(value: Any, where: str) -> Any:
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ConfigError(f"{where}: {value!r} is not a finite number")
        return int(value) if value.is_integer() else value
    if isinstance(value, dict):
        return {str(k): _canonical_value(v, f"{where}.{k}") for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_canonical_value(v, f"{where}[{i}]") for i, v in enumerate(value)]
    raise ConfigError(f"{where}: value of type {type(value).__name__} cannot be part of a run spec")


def _drop_late_defaults(spec: dict) -> dict:
    out = json.loads(json.dumps(spec))
    for path, default in LATE_FIELDS.items():
        node = out
        for key in path[:-1]:
            node = node.get(key) if isinstance(node, dict) else None
            if node is None:
                break
        if isinstance(node, dict) and path[-1] in node and node[path[-1]] == default:
            del node[path[-1]]
    return out


def canonical(spec: dict) -> dict:
    """The normalised spec: integral floats as ints, tuples as lists, keys as strings."""
    return _canonical_value(spec, "spec")


def canonical_json(spec: dict) -> str:
    """Sorted-key, whitespace-free JSON of the canonical spec (the text that is hashed)."""
    return json.dumps(
        _drop_late_defaults(canonical(spec)), sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=False
    )


def spec_hash(spec: dict) -> str:
    """First 16 hex digits of the sha256 of the canonical JSON."""
    return hashlib.sha256(canonical_json(spec).encode("ascii")).hexdigest()[:HASH_LENGTH]
