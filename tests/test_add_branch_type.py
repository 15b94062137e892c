"""Adding a branch type is one new module (issue #15): a copy of the workflow and the package with one extra
module in ``branch_types/catalog/`` plans, validates and schedules a config that uses the new type, while the
checkout's own code, which lacks the module, refuses that config in one line."""

import json
import os
import shutil
import subprocess
import sys

import pytest
import yaml
from conftest import BIN, ROOT

pytestmark = pytest.mark.e2e

POLISH = '''"""Polishing: fine-tuning under another name, the smallest branch type there is."""

from dataclasses import replace

from prunelab.branch_types.catalog.finetune import BRANCH_TYPE as FINETUNE

BRANCH_TYPE = replace(FINETUNE, name="polish", label="polished", doc="Fine-tuning, by another name.")
'''

CONFIG = yaml.safe_load((ROOT / "tests" / "configs" / "tiny.yaml").read_text())
CONFIG["branches"]["polish"] = {"type": "polish", "train": {"epochs": 1}}
CONFIG["experiments"]["oneshot"].update(pruning=["magnitude"], sparsities=[0.5], branches=["polish"])


@pytest.fixture(scope="module")
def checkout(tmp_path_factory):
    """The Snakefile, workflow/ and src/prunelab copied, plus ``branch_types/polish.py``; nothing else edited."""
    root = tmp_path_factory.mktemp("checkout")
    shutil.copy(ROOT / "Snakefile", root / "Snakefile")
    ignore = shutil.ignore_patterns("__pycache__")
    shutil.copytree(ROOT / "workflow", root / "workflow", ignore=ignore)
    shutil.copytree(ROOT / "src" / "prunelab", root / "src" / "prunelab", ignore=ignore)
    (root / "src" / "prunelab" / "branch_types" / "catalog" / "polish.py").write_text(POLISH)
    (root / "config.yaml").write_text(yaml.safe_dump(CONFIG))
    return root


def _run(cmd: list[str], src, cwd) -> subprocess.CompletedProcess:
    """``cmd`` with ``src`` ahead of the installed prunelab on the path (the copy, or the checkout)."""
    env = {**os.environ, "PYTHONPATH": str(src), "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}
    return subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=cwd, timeout=300)


PLAN = """
import json, prunelab
from prunelab.config.validation import load_config
from prunelab.plan.build import build_plan
plan = build_plan(load_config('config.yaml'), 'config.yaml')
print(json.dumps({"package": prunelab.__file__, "types": sorted(s["type"] for s in plan.specs.values()
                                                                  if s["kind"] == "branch")}))
"""


def test_the_new_module_plans_and_validates(checkout):
    proc = _run([sys.executable, "-c", PLAN], checkout / "src", checkout)
    assert proc.returncode == 0, proc.stderr
    planned = json.loads(proc.stdout.strip().splitlines()[-1])
    assert planned["package"].startswith(str(checkout / "src"))  # the copy, not the checkout, was imported
    assert planned["types"] == ["polish"]
    proc = _run([str(BIN / "prunelab"), "validate", "config.yaml"], checkout / "src", checkout)
    assert proc.returncode == 0 and "valid; runs: 1 dense, 1 prune, 1 branch" in proc.stdout, proc.stderr


def test_snakemake_schedules_the_new_branch_job(checkout):
    proc = _run(
        [str(BIN / "snakemake"), "-n", "-p", "--cores", "1", "--configfile", "config.yaml"], checkout / "src", checkout
    )
    text = proc.stdout + proc.stderr
    assert proc.returncode == 0, text[-3000:]
    branch_jobs = [line for line in text.splitlines() if "python -m prunelab branch --spec" in line]
    assert len(branch_jobs) == 1 and '"type":"polish"' in branch_jobs[0]  # the spec, as canonical JSON


def test_without_the_module_the_same_config_is_refused_in_one_line(checkout):
    """The oracle can fail: the checkout's own package does not know the type."""
    proc = _run([str(BIN / "prunelab"), "validate", str(checkout / "config.yaml")], ROOT / "src", checkout)
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 2 and len(lines) == 1
    assert "key branches.polish.type: 'polish' is not a branch type (known: finetune," in lines[0]
