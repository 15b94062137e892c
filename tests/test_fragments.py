"""The one mechanism for method hyperparameters and figure options: JSON-schema fragments checked by
prunelab.config.fragments (defaults filled, one line naming the key and the declaring method or figure type)."""

import math

import pytest

from prunelab.analysis.registry import figure_types
from prunelab.cli.commands import main
from prunelab.config import fragments
from prunelab.errors import ConfigError
from prunelab.pruning import methods, resolve_hparams

FRAGMENT = fragments.closed(
    {
        "rate": {"type": "number", "exclusiveMinimum": 0, "default": 0.5, "description": "a rate"},
        "steps": {"type": "integer", "minimum": 1, "default": 3},
        "names": {"type": "array", "items": {"type": "string"}, "default": []},
    }
)


def test_defaults_are_filled_in_declaration_order_as_fresh_copies():
    first = fragments.resolve(FRAGMENT, None, "x", "owner")
    assert list(first.items()) == [("rate", 0.5), ("steps", 3), ("names", [])]
    first["names"].append("changed")
    assert fragments.resolve(FRAGMENT, {"steps": 7}, "x", "owner") == {"rate": 0.5, "steps": 7, "names": []}


OPTIONAL = fragments.closed(
    {
        "rate": {"type": "number", "default": 0.5, "description": "a rate"},
        "extra": {"type": "boolean", "default": False, "omitted_at_default": True, "description": "an added switch"},
    }
)


@pytest.mark.parametrize(
    "given,expected",
    [
        (None, {"rate": 0.5}),
        ({"extra": False}, {"rate": 0.5}),
        ({"extra": True}, {"rate": 0.5, "extra": True}),
    ],
)
def test_a_key_omitted_at_its_default_is_left_out_whether_filled_in_or_given(given, expected):
    """So adding such a key to a method leaves the specs, and run hashes, of runs that do not use it as they were."""
    assert fragments.resolve(OPTIONAL, given, "x", "owner") == expected
    with pytest.raises(ConfigError, match="config key x.extra: 0 is not of type 'boolean'"):
        fragments.resolve(OPTIONAL, {"extra": 0}, "x", "owner")


@pytest.mark.parametrize(
    "given,message",
    [
        ({"rate": True}, "config key x.y.rate: True is not of type 'number' (owner)"),
        ({"rate": math.nan}, "config key x.y.rate: nan is not of type 'number' (a finite number is needed) (owner)"),
        ({"rate": math.inf}, "config key x.y.rate: inf is not of type 'number' (a finite number is needed) (owner)"),
        ({"rate": 0}, "config key x.y.rate: 0 is less than or equal to the minimum of 0 (owner)"),
        ({"rate": "1e-4"}, "config key x.y.rate: '1e-4' is not of type 'number' (YAML 1.1 reads 1e-4 as text"),
        ({"steps": 2.0}, "config key x.y.steps: 2.0 is not of type 'integer' (owner)"),
        ({"steps": False}, "config key x.y.steps: False is not of type 'integer' (owner)"),
        ({"names": ["a", 1]}, "config key x.y.names[1]: 1 is not of type 'string' (owner)"),
        (
            {"rats": 1},
            "config key x.y: Additional properties are not allowed ('rats' was unexpected) "
            "(allowed: rate, steps, names) (owner)",
        ),
        ([1], "config key x.y: [1] is not of type 'object' (owner)"),
    ],
)
def test_a_bad_value_is_one_line_naming_the_key_and_the_owner(given, message):
    with pytest.raises(ConfigError) as error:
        fragments.resolve(FRAGMENT, given, "x.y", "owner")
    assert message in str(error.value) and "\n" not in str(error.value)


def test_every_declared_default_satisfies_its_own_fragment():
    """A default outside its bounds would only surface when some config relied on it."""
    for name, method in methods().items():
        assert resolve_hparams(name, {}) == fragments.defaults(method.hparams), name
        omitted = {k for k, v in method.hparams["properties"].items() if v.get(fragments.OMITTED_AT_DEFAULT)}
        assert set(fragments.defaults(method.hparams)) | omitted == set(method.hparams["properties"]), name
        assert all("default" in v for v in method.hparams["properties"].values()), name
    for name, kind in figure_types().items():
        resolved = fragments.resolve(kind.options, {}, "options", name)
        assert set(resolved) == set(kind.options["properties"]), name


def test_every_hyperparameter_and_option_says_what_it_is():
    for name, method in methods().items():
        assert all(s.get("description") for s in method.hparams["properties"].values()), name
    for name, kind in figure_types().items():
        assert all(s.get("description") for s in kind.options["properties"].values()), name


def test_prunelab_methods_lists_defaults_and_descriptions_from_the_fragments(capsys):
    main(["methods"])
    out = capsys.readouterr().out.splitlines()
    obs = out.index(next(line for line in out if line.startswith("obs ")))
    declared = methods()["obs"].hparams["properties"]
    assert out[obs + 1 : obs + 1 + len(declared)] == [
        f"    {key} = {schema['default']!r}  {schema['description']}" for key, schema in declared.items()
    ]
