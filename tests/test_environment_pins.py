"""pyproject.toml is the one source of versions: the conda files repeat its pins and ranges exactly.

``environment.yml`` (a cluster user's conda environment) and ``workflow/envs/prunelab.yaml`` (the jobs' environment
under ``snakemake --sdm conda``) cannot include pyproject.toml, so they copy its requirements. Each package they
name must carry the same version specifier as in pyproject.toml (dependencies or an extra), and they may name
nothing pyproject.toml does not know, so a version bump that misses one of them fails here.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import yaml
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import Version

tomllib = pytest.importorskip("tomllib" if sys.version_info >= (3, 11) else "tomli")

ROOT = Path(__file__).resolve().parents[1]
CONDA_FILES = ["environment.yml", "workflow/envs/prunelab.yaml"]


def pyproject() -> tuple[dict[str, SpecifierSet], set[str], SpecifierSet]:
    """Specifier per package over dependencies and extras, the core dependency names, and requires-python."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    core = [Requirement(line) for line in project["dependencies"]]
    extras = [Requirement(line) for lines in project.get("optional-dependencies", {}).values() for line in lines]
    pins = {canonicalize_name(req.name): req.specifier for req in core + extras}
    return pins, {canonicalize_name(req.name) for req in core}, SpecifierSet(project["requires-python"])


def conda_requirements(path: str) -> tuple[list[Requirement], str | None]:
    """The packages of a conda environment file (conda and pip sections) and its python version, if pinned."""
    entries = yaml.safe_load((ROOT / path).read_text())["dependencies"]
    python, found = None, []
    for entry in entries:
        for line in entry["pip"] if isinstance(entry, dict) else [entry]:
            if line.startswith("-e ") or line == "pip":
                continue
            if line.startswith("python"):
                python = line.split("=")[-1]
                continue
            found.append(Requirement(line))
    return found, python


@pytest.mark.parametrize("path", CONDA_FILES)
def test_conda_file_repeats_pyproject_pins(path):
    pins, _, requires_python = pyproject()
    requirements, python = conda_requirements(path)
    assert requirements, f"{path}: no packages read"
    for req in requirements:
        name = canonicalize_name(req.name)
        assert name in pins, f"{path}: {req.name} is not a requirement in pyproject.toml"
        assert req.specifier == pins[name], (
            f"{path}: {req.name}{req.specifier} differs from pyproject.toml's {req.name}{pins[name]}"
        )
    assert python is not None and Version(python) in requires_python, (
        f"{path}: python={python} does not satisfy pyproject.toml's requires-python {requires_python}"
    )


def test_environment_yml_lists_every_core_dependency():
    _, core, _ = pyproject()
    listed = {canonicalize_name(req.name) for req in conda_requirements("environment.yml")[0]}
    assert core <= listed, f"environment.yml lacks {', '.join(sorted(core - listed))} (in pyproject.toml)"


def test_job_environment_has_the_torch_pair():
    listed = {canonicalize_name(req.name) for req in conda_requirements("workflow/envs/prunelab.yaml")[0]}
    assert {"torch", "torchvision"} <= listed
