"""Registries filled by discovery: every module of a package, imported, so that adding an entry (a pruning
method's declaration, a branch type, a paper's claims) is adding a module, with no list to edit."""

from __future__ import annotations

import importlib
import pkgutil
from types import ModuleType
from typing import Any


def modules(package: str) -> list[ModuleType]:
    """The modules directly inside ``package``, imported, in name order (so registries list in a fixed order)."""
    path = importlib.import_module(package).__path__
    return [
        importlib.import_module(f"{package}.{info.name}")
        for info in sorted(pkgutil.iter_modules(path), key=lambda info: info.name)
    ]


def declared(package: str, kind: type, *attributes: str) -> dict[str, Any]:
    """``{entry.name: entry}`` of every ``kind`` instance the modules of ``package`` export under ``attributes``
    (an attribute holds one entry or a list of them); modules without one, such as an interface, are skipped.
    Two entries of one name are refused: which one won would depend on the module names."""
    found: dict[str, Any] = {}
    where: dict[str, str] = {}
    for module in modules(package):
        for attribute in attributes:
            value = getattr(module, attribute, [])
            for entry in value if isinstance(value, (list, tuple)) else [value]:
                if not isinstance(entry, kind):
                    continue
                if entry.name in found:
                    raise ValueError(
                        f"{kind.__name__} {entry.name!r} is declared twice: in {where[entry.name]} "
                        f"and in {module.__name__}"
                    )
                found[entry.name], where[entry.name] = entry, module.__name__
    return found
