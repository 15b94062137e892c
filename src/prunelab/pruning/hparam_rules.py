"""One-line checks for method hyperparameters, shared by the methods' ``check=`` functions.

Each rule raises :class:`~prunelab.errors.ConfigError` naming the method, the hyperparameter, the value
given and what is allowed. Booleans are rejected where numbers are expected (``True`` is an ``int`` in
Python, but ``damp: true`` in a config is a mistake).
"""

from __future__ import annotations

from prunelab.errors import ConfigError


def _number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def one_of(method: str, hparams: dict, key: str, allowed: tuple[str, ...]) -> None:
    if hparams[key] not in allowed:
        raise ConfigError(f"method '{method}': hparams.{key}={hparams[key]!r} is unknown "
                          f"(allowed: {', '.join(allowed)})")


def positive_int(method: str, hparams: dict, key: str) -> None:
    value = hparams[key]
    if not (isinstance(value, int) and not isinstance(value, bool) and value >= 1):
        raise ConfigError(f"method '{method}': hparams.{key}={value!r} must be an integer ≥ 1")


def non_negative(method: str, hparams: dict, key: str) -> None:
    value = hparams[key]
    if not (_number(value) and value >= 0 and value == value and value != float("inf")):
        raise ConfigError(f"method '{method}': hparams.{key}={value!r} must be a finite number ≥ 0")


def positive(method: str, hparams: dict, key: str) -> None:
    value = hparams[key]
    if not (_number(value) and value > 0 and value != float("inf")):
        raise ConfigError(f"method '{method}': hparams.{key}={value!r} must be a finite number > 0")
