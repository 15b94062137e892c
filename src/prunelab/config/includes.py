"""A suite made of other suites: ``include: [a.yaml, b.yaml]`` runs their experiments as one suite.

The record at the papers' settings is one config per paper (each regenerable on its own) and a combined config
that names them, so that no experiment is written twice. Including is a union, not an override: a named entry
(a dense net, pruning, branch, experiment or figure) defined differently in two files stops planning with one
line naming both files, because a silent override would change what one paper's part computes. The including
file's own settings (``suite``, ``results``, ``data_root``, ``runtime``) win; a setting it leaves out must be
the same in every included file. Paths are relative to the including file; included files include nothing.
"""

from __future__ import annotations

from pathlib import Path

import yaml

from prunelab.errors import ConfigError

SECTIONS = ("dense", "pruning", "branches", "experiments", "figures")


def read_yaml(path: Path, what: str = "") -> dict:
    """The mapping in ``path``, or one line saying why there is none (after ``what``: who asked for the file)."""
    what = f"{what}: " if what else ""
    try:
        with open(path, encoding="utf-8") as handle:
            data = yaml.safe_load(handle)
    except FileNotFoundError:
        raise ConfigError(f"{what}{path}: config file not found") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark else ""
        raise ConfigError(f"{what}{path}:{where} not valid YAML ({getattr(exc, 'problem', exc)})") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{what}{path}: a config must be a mapping of keys to values")
    return data


def expand_includes(config: dict, source: str | Path) -> dict:
    """``config`` with the suites it includes merged in (``config`` itself when it includes none)."""
    names = config.get("include")
    if names is None:
        return config
    key = f"{source}: key include"
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise ConfigError(f"{key}: a list of suite config files, relative to {source}")
    parts = [(Path(source).parent / name, read_yaml(Path(source).parent / name, key)) for name in names]
    own = {k: v for k, v in config.items() if k != "include"}
    parts.append((Path(source), {k: v for k, v in own.items() if k in SECTIONS}))
    merged: dict = {}
    defined_in: dict[tuple[str, str], Path] = {}
    for path, part in parts:
        if "include" in part:
            raise ConfigError(f"{key}: {path} includes other files; include those suites directly")
        for name, value in part.items():
            if name in SECTIONS:
                section = merged.setdefault(name, {})
                for entry, body in (value or {}).items():
                    first = defined_in.setdefault((name, entry), path)
                    if entry in section and section[entry] != body:
                        raise ConfigError(
                            f"{key}: {name}.{entry} is defined differently in {first} and {path}; rename one"
                        )
                    section[entry] = body
            elif name not in own and name != "suite":
                first = defined_in.setdefault(("", name), path)
                if name in merged and merged[name] != value:
                    raise ConfigError(f"{key}: {name} differs between {first} and {path}; set it in {source}")
                merged[name] = value
    return {**merged, **{k: v for k, v in own.items() if k not in SECTIONS}}
