"""Load and validate a suite config with Snakemake's ``validate`` (JSON schema with defaults).

The same schema check runs inside the Snakefile and in the ``prunelab`` CLI, so a config error is reported
identically either way: one line naming the key path and the allowed values, before any job runs.
"""

from __future__ import annotations

from pathlib import Path

import yaml

from prunelab.errors import ConfigError

SCHEMA = Path(__file__).resolve().parents[2] / "workflow" / "schemas" / "config.schema.yaml"


def schema_path() -> Path:
    """The schema beside the Snakefile (a source checkout; prunelab is installed editable)."""
    if not SCHEMA.is_file():
        raise ConfigError(f"config schema not found at {SCHEMA}; install prunelab from its checkout (pip install -e .)")
    return SCHEMA


def _key_path(error) -> str:
    parts = []
    for item in error.absolute_path:
        parts.append(f"[{item}]" if isinstance(item, int) else (f".{item}" if parts else str(item)))
    return "".join(parts) or "(top level)"


def validation_error_line(exc: Exception, source: str = "config") -> str:
    """One line from a jsonschema ``ValidationError`` (possibly wrapped in Snakemake's ``WorkflowError``)."""
    import jsonschema

    error = exc  # Snakemake raises WorkflowError from inside `except ValidationError`, so look at the context
    while error is not None and not isinstance(error, jsonschema.ValidationError):
        error = error.__cause__ or error.__context__
    if error is None:
        return f"{source}: {exc}"
    while error.context:  # anyOf/oneOf: report the branch the value was meant for (not a mere type mismatch)
        meant = [e for e in error.context if e.validator != "type"]
        error = jsonschema.exceptions.best_match(meant or error.context)
    message = error.message if len(error.message) <= 300 else error.message[:297] + "..."
    if isinstance(error.schema, dict) and "x-why" in error.schema:  # the schema's reason, where a bare
        message += f": {error.schema['x-why']}"                      # constraint would not say it
    if isinstance(error.instance, str) and _looks_numeric(error.instance):
        message += f" (YAML 1.1 reads {error.instance} as text; write it with a decimal point, e.g. 1.0e-4)"
    return f"{source}: key {_key_path(error)}: {message}"


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
    """Read a YAML/JSON suite config and validate it."""
    path = Path(path)
    try:
        with open(path, encoding="utf-8") as handle:
            config = yaml.safe_load(handle)
    except FileNotFoundError:
        raise ConfigError(f"{path}: config file not found") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark else ""
        raise ConfigError(f"{path}:{where} not valid YAML ({getattr(exc, 'problem', exc)})") from None
    if not isinstance(config, dict):
        raise ConfigError(f"{path}: a config must be a mapping of keys to values")
    return validate_config(config, str(path))
