"""Values checked against JSON-schema fragments: a pruning method's hyperparameters, a figure type's options.

The suite schema (``workflow/schemas/config.schema.yaml``) leaves ``pruning.<name>.hparams`` and
``figures.<name>.options`` open: what they may hold depends on the method or figure type named beside them,
and listing that in the schema would repeat every declaration. Each declaration instead carries a fragment
(catalog module, figure-type module) with types, bounds, ``default`` and ``description`` per key, and
planning checks the value against it here, with jsonschema and the same one-line error as the schema check.

A key may carry ``"omitted_at_default": true`` (a keyword of prunelab's, which jsonschema ignores): the resolved
values leave it out while it holds its default, whether that default was filled in or given. That is how a
hyperparameter is added to a method without changing the run hashes of the runs that do not use it (resolved
hyperparameters are part of every prune spec); whoever reads the value takes the default when it is absent.
"""

from __future__ import annotations

import copy
import math

import jsonschema

from prunelab.config.validation import error_message, key_path, meant_error
from prunelab.errors import ConfigError


def closed(properties: dict[str, dict]) -> dict:
    """The fragment of a mapping that may hold exactly ``properties`` (each one's schema, with its default)."""
    return {"type": "object", "properties": properties, "additionalProperties": False}


# A number here is finite (YAML writes .nan and .inf, and both pass minimum/maximum comparisons) and an integer
# is an int (1000.0 would pass as an integer in JSON schema, then change the run hash and break range()).
_TYPES = jsonschema.Draft202012Validator.TYPE_CHECKER.redefine_many(
    {
        "number": lambda checker, value: (
            isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
        ),
        "integer": lambda checker, value: isinstance(value, int) and not isinstance(value, bool),
    }
)
Validator = jsonschema.validators.extend(jsonschema.Draft202012Validator, type_checker=_TYPES)


OMITTED_AT_DEFAULT = "omitted_at_default"


def defaults(fragment: dict) -> dict:
    """The declared defaults of a closed fragment, in declaration order (fresh copies: callers may mutate),
    without the keys omitted at their default."""
    return {
        key: copy.deepcopy(schema["default"])
        for key, schema in fragment["properties"].items()
        if "default" in schema and not schema.get(OMITTED_AT_DEFAULT)
    }


def resolve(fragment: dict, given: dict | None, where: str, owner: str) -> dict:
    """``given`` (None: nothing given) checked against ``fragment``, the declared defaults filled in.

    ``where`` is the config key of ``given`` (``pruning.obs.hparams``) and ``owner`` what declared the
    fragment (``method 'obs'``); a violation raises one line naming both, e.g.
    ``config key pruning.obs.hparams.damp: -1 is less than the minimum of 0 (method 'obs')``.
    """
    given = {} if given is None else given
    error = jsonschema.exceptions.best_match(Validator(fragment).iter_errors(given))
    if error is not None:
        error = meant_error(error)
        raise ConfigError(f"config key {key_path(error, where)}: {error_message(error)} ({owner})")
    omitted = {
        key
        for key, schema in fragment["properties"].items()
        if schema.get(OMITTED_AT_DEFAULT) and key in given and given[key] == schema["default"]
    }
    return {**defaults(fragment), **{key: value for key, value in given.items() if key not in omitted}}


def describe(schema: dict) -> str:
    """One key of a fragment for a listing: ``= default  description`` (every key declares both; a test says so)."""
    return f"= {schema['default']!r}  {schema['description']}"
