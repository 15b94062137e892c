"""Reading results and planning never import torch: ``prunelab audit``/``lineage`` hash files and read JSON,
and planning needs only the methods' declarations (prunelab.pruning.catalog), not their scorers.

Each check runs in a fresh interpreter, because this test process has torch loaded already (conftest).
"""

import os
import subprocess
import sys

import pytest
from conftest import ROOT

from prunelab.pruning import methods
from prunelab.records import layout


def torch_loaded_after(code: str) -> bool:
    """Whether ``code`` leaves torch in ``sys.modules`` of a fresh interpreter."""
    probe = f"{code}\nimport sys\nprint('torch' in sys.modules)"
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    proc = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, env=env, cwd=ROOT, timeout=120, check=True
    )
    return proc.stdout.strip().splitlines()[-1] == "True"


def test_audit_and_lineage_import_no_torch():
    assert not torch_loaded_after("import prunelab.records.audit, prunelab.records.lineage")


def test_planning_a_config_imports_no_torch():
    assert not torch_loaded_after(
        "from prunelab.config.validation import load_config\nfrom prunelab.plan.build import build_plan\n"
        "plan = build_plan(load_config('tests/configs/branches.yaml'))\n"
        "assert plan.specs"
    )


def test_the_probe_sees_torch_when_it_is_imported():
    """The oracle can fail: a job module does load torch."""
    assert torch_loaded_after("import prunelab.jobs.kinds")


@pytest.mark.parametrize("name", sorted(methods()))
def test_every_declared_method_has_its_implementation(name):
    method = methods()[name]
    assert (method.score is None) != (method.prune is None)
    assert callable(method.score or method.prune)


def test_layout_imports_nothing_of_prunelab():
    source = (ROOT / "src" / "prunelab" / "records" / "layout.py").read_text()
    assert "import prunelab" not in source and "from prunelab" not in source
    assert layout.run_files("prune")[-1] == layout.PROVENANCE
