"""Load and validate a suite config with Snakemake's ``validate`` (JSON schema with defaults).

The same schema check runs inside the Snakefile and in the ``prunelab`` CLI, so a config error is reported
identically either way: one line naming the key path and the allowed values, before any job runs.
"""

from __future__ import annotations

import math
from pathlib import Path

import yaml

from prunelab.errors import ConfigError

SCHEMA = Path(__file__).resolve().parents[3] / "workflow" / "schemas" / "config.schema.yaml"


def schema_path() -> Path:
    """The schema beside the Snakefile (a source checkout; prunelab is installed editable)."""
    if not SCHEMA.is_file():
        raise ConfigError(f"config schema not found at {SCHEMA}; install prunelab from its checkout (pip install -e .)")
    return SCHEMA


def key_path(error, prefix: str = "") -> str:
    """``a.b[0].c`` from a jsonschema error's path, after ``prefix`` (where a checked fragment sits)."""
    parts = [prefix] if prefix else []
    for item in error.absolute_path:
        parts.append(f"[{item}]" if isinstance(item, int) else (f".{item}" if parts else str(item)))
    return "".join(parts) or "(top level)"


def meant_error(error):
    """The error to report: for anyOf/oneOf, the branch the value was meant for (not a mere type mismatch)."""
    import jsonschema

    while error.context:
        meant = [e for e in error.context if e.validator != "type"]
        error = jsonschema.exceptions.best_match(meant or error.context)
    return error


def error_message(error) -> str:
    """What is wrong, in one line: jsonschema's message plus what it leaves unsaid (the schema's ``x-why``,
    the keys that are allowed, why a YAML value is text or not a finite number)."""
    message = error.message if len(error.message) <= 300 else error.message[:297] + "..."
    schema = error.schema if isinstance(error.schema, dict) else {}
    if "x-why" in schema:  # the schema's reason, where a bare constraint would not say it
        message += f": {schema['x-why']}"
    if error.validator == "additionalProperties" and isinstance(schema.get("properties"), dict):
        message += f" (allowed: {', '.join(schema['properties']) or 'none'})"
    if isinstance(error.instance, str) and _looks_numeric(error.instance):
        message += _numeric_text_hint(error.instance)
    if isinstance(error.instance, float) and not math.isfinite(error.instance):
        message += " (a finite number is needed)"
    return message


def validation_error_line(exc: Exception, source: str = "config") -> str:
    """One line from a jsonschema ``ValidationError`` (possibly wrapped in Snakemake's ``WorkflowError``)."""
    import jsonschema

    error = exc  # Snakemake raises WorkflowError from inside `except ValidationError`, so look at the context
    while error is not None and not isinstance(error, jsonschema.ValidationError):
        error = error.__cause__ or error.__context__
    if error is None:
        return f"{source}: {exc}"
    error = meant_error(error)
    return f"{source}: key {key_path(error)}: {error_message(error)}"


def _numeric_text_hint(text: str) -> str:
    """Why a number arrived as text: quotes (YAML would read it as a number without them), or YAML 1.1's
    rule that an exponent without a decimal point (``1e-4``) is text."""
    if isinstance(yaml.safe_load(text), (int, float)):
        return f" (the value is the quoted string {text!r}; remove the quotes to make it a number)"
    return f" (YAML 1.1 reads {text} as text; write it with a decimal point, e.g. 1.0e-4)"


def _looks_numeric(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def validate_config(config: dict, source: str = "config") -> dict:
    """Validate ``config`` in place (defaults filled) with Snakemake's validator; raise a one-line error."""
    from snakemake.utils import validate

    try:
        validate(config, str(schema_path()))
    except Exception as exc:  # WorkflowError wrapping jsonschema.ValidationError
        raise ConfigError(validation_error_line(exc, source)) from None
    return config


def load_config(path: str | Path) -> dict:
    """Read a YAML/JSON suite config, merge the suites it includes, and validate it."""
    from prunelab.config.includes import expand_includes, read_yaml

    path = Path(path)
    return validate_config(expand_includes(read_yaml(path), path), str(path))
