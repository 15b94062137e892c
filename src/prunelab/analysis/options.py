"""Typed options of a figure spec (``figures.<name>.options``), declared next to each figure type.

The config schema only says ``options`` is a mapping; each figure type lists its options here with a
default, a checker and one line of documentation. The workflow checks every figure's options when it parses
the config (before any job runs) and ``draw`` checks them again, so a typo is one line naming the key and
the allowed values, never a traceback halfway through a suite.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any, Callable

from prunelab.errors import ConfigError


@dataclass(frozen=True)
class Option:
    default: Any
    check: Callable[[Any, str], Any]   # (value, config key) → normalised value, or ConfigError
    doc: str


def one_of(*choices: str) -> Callable[[Any, str], str]:
    def check(value, key):
        if value not in choices:
            raise ConfigError(f"config key {key}: {value!r} is not one of {', '.join(choices)}")
        return value
    return check


def text_mapping(value, key) -> dict[str, str]:
    """A mapping of config names to labels, e.g. ``{l1_a: A, l1_b: B}``."""
    if not isinstance(value, dict) or not all(isinstance(v, (str, int, float)) for v in value.values()):
        raise ConfigError(f"config key {key}: expected a mapping of names to labels, got {value!r}")
    return {str(k): str(v) for k, v in value.items()}


def mapping_onto(*choices: str) -> Callable[[Any, str], dict[str, str]]:
    """A mapping of config names to one of ``choices``, e.g. ``{ft40: finetune}``."""
    def check(value, key):
        mapping = text_mapping(value, key)
        for name, target in mapping.items():
            if target not in choices:
                raise ConfigError(f"config key {key}.{name}: {target!r} is not one of {', '.join(choices)}")
        return mapping
    return check


def subset_of(*choices: str) -> Callable[[Any, str], list[str]]:
    def check(value, key):
        if not isinstance(value, list) or not value or any(v not in choices for v in value):
            raise ConfigError(f"config key {key}: expected a non-empty list drawn from {', '.join(choices)}, "
                              f"got {value!r}")
        return list(value)
    return check


def name(value, key) -> str:
    if not isinstance(value, str) or not value:
        raise ConfigError(f"config key {key}: expected a non-empty name, got {value!r}")
    return value


def non_negative(value, key) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value >= 0:
        raise ConfigError(f"config key {key}: expected a number ≥ 0, got {value!r}")
    return float(value)


def boolean(value, key) -> bool:
    if not isinstance(value, bool):
        raise ConfigError(f"config key {key}: expected true or false, got {value!r}")
    return value


# how published values are matched to our rows (figure types that overlay them)
PUBLISHED = Option("matching", one_of("matching", "any_dataset", "none"),
                   "overlay published values: 'matching' = same model and dataset only; 'any_dataset' = same "
                   "model on whatever dataset we ran (labelled with the paper's dataset); 'none' = no overlay")


def resolve(declared: dict[str, Option], given: dict | None, where: str) -> dict:
    """``given`` checked against ``declared``, defaults filled; ``where`` is e.g. ``figures.t1.options``."""
    given = {} if given is None else given
    if not isinstance(given, dict):
        raise ConfigError(f"config key {where}: expected a mapping of options, got {given!r}")
    unknown = sorted(set(given) - set(declared))
    if unknown:
        raise ConfigError(f"config key {where}: unknown option(s) {', '.join(unknown)} "
                          f"(allowed: {', '.join(sorted(declared)) or 'none'})")
    return {key: option.check(given[key], f"{where}.{key}") if key in given else copy.deepcopy(option.default)
            for key, option in declared.items()}
