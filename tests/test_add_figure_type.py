"""Adding a figure type is one new module (plus its test): in a copy of the workflow and the package, a module
dropped into ``prunelab/analysis`` is found by the config check, the plan, Snakemake and ``prunelab figure``
with no registry, schema, rule or report-caption edit.
"""

import json
import os
import shutil
import subprocess
import sys
import textwrap

import pandas as pd
import pytest
import synthetic_tables as synthetic
import yaml
from conftest import BIN, ROOT, planned_jobs

NEW_TYPE = textwrap.dedent('''
    """A test-only figure type: how many rows of each stage the tables have."""

    from prunelab.analysis import plotting
    from prunelab.analysis.registry import GENERIC, Drawn, FigureType
    from prunelab.config.fragments import closed


    def stage_counts(rows, request):
        counts = rows["stage"].value_counts().sort_index()
        counts = counts[counts >= request.options["min_rows"]].rename_axis("stage").reset_index(name="rows")
        fig, axes = plotting.pyplot().subplots()
        axes.bar(counts["stage"], counts["rows"])
        return Drawn(fig, counts, [f"{len(counts)} stages."])


    FIGURE_TYPES = [
        FigureType("stage_counts", GENERIC, stage_counts, closed({
            "min_rows": {
                "type": "integer",
                "minimum": 1,
                "default": 1,
                "description": "stages with fewer are left out",
            },
        }), "Rows per stage of experiment(s) {experiments}, stages with at least {min_rows} rows."),
    ]
''')


def copy_with(root, **modules):
    """The Snakefile, workflow/ and the package copied under ``root``, with ``modules`` (name → source) added
    to the copied analysis package, and a tiny config drawing one figure of the new type."""
    ignore = shutil.ignore_patterns("__pycache__", "*.egg-info")
    shutil.copy(ROOT / "Snakefile", root / "Snakefile")
    shutil.copytree(ROOT / "workflow", root / "workflow", ignore=ignore)
    shutil.copytree(ROOT / "src" / "prunelab", root / "src" / "prunelab", ignore=ignore)
    for name, source in modules.items():
        (root / "src" / "prunelab" / "analysis" / f"{name}.py").write_text(source)
    config = yaml.safe_load((ROOT / "tests" / "configs" / "tiny.yaml").read_text())
    config["figures"] = {"counts": {"type": "stage_counts", "experiments": ["oneshot"], "options": {"min_rows": 2}}}
    (root / "config.yaml").write_text(yaml.safe_dump(config))
    return root


@pytest.fixture(scope="module")
def copy(tmp_path_factory):
    return copy_with(tmp_path_factory.mktemp("copy"), stage_counts=NEW_TYPE)


def run(copy, *args, cwd=None):
    """A command in a fresh interpreter that imports prunelab from the copy."""
    env = {**os.environ, "PYTHONPATH": str(copy / "src"), "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}
    return subprocess.run(list(args), capture_output=True, text=True, env=env, cwd=cwd or copy, timeout=120)


def test_the_config_check_and_the_plan_accept_the_new_type_and_check_its_options(copy):
    ok = run(copy, sys.executable, "-m", "prunelab", "validate", "config.yaml")
    assert ok.returncode == 0 and "1 figure(s)" in ok.stdout, ok.stderr
    bad = yaml.safe_load((copy / "config.yaml").read_text())
    bad["figures"]["counts"]["options"] = {"min_rows": 0}
    (copy / "bad.yaml").write_text(yaml.safe_dump(bad))
    refused = run(copy, sys.executable, "-m", "prunelab", "validate", "bad.yaml")
    assert refused.returncode == 2
    assert refused.stderr.strip() == (
        "prunelab: bad.yaml: key figures.counts.options.min_rows: 0 is less than the "
        "minimum of 1 (figure type stage_counts)"
    )


def test_the_installed_package_does_not_know_the_type(copy):
    """The oracle can fail: without the module the same config is refused."""
    from prunelab.cli.commands import main

    assert main(["validate", str(copy / "config.yaml")]) == 2


def test_snakemake_lists_its_figure_job(copy, tmp_path):
    proc = run(
        copy,
        str(BIN / "snakemake"),
        "--snakefile",
        str(copy / "Snakefile"),
        "--directory",
        str(tmp_path),
        "--configfile",
        str(copy / "config.yaml"),
        "-n",
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert planned_jobs(proc)["figure_stage_counts"] == 1


def test_prunelab_figure_draws_it_with_its_caption(copy, tmp_path):
    table = tmp_path / "t.csv"
    synthetic.demo_like().to_csv(table, index=False)
    spec = json.dumps({"type": "stage_counts", "experiments": ["oneshot"], "options": {"min_rows": 2}})
    proc = run(
        copy,
        sys.executable,
        "-m",
        "prunelab",
        "figure",
        "--spec",
        spec,
        "--tables",
        str(table),
        "--out",
        str(tmp_path / "counts.png"),
        "--results",
        str(tmp_path),
        "--name",
        "counts",
    )
    assert proc.returncode == 0, proc.stderr
    expected = synthetic.demo_like()["stage"].value_counts()
    values = pd.read_csv(tmp_path / "counts.csv").set_index("stage")["rows"]
    assert values.to_dict() == expected[expected >= 2].to_dict()
    summary = (tmp_path / "counts.summary.rst").read_text()
    assert summary.startswith("Rows per stage of experiment(s) oneshot, stages with at least 2 rows.")
    assert (tmp_path / "counts.png").stat().st_size > 0


def test_a_second_module_declaring_the_same_name_is_refused(tmp_path):
    """Which declaration won would depend on module order: discovery refuses instead."""
    copied = copy_with(tmp_path, stage_counts=NEW_TYPE, stage_counts_again=NEW_TYPE)
    proc = run(copied, sys.executable, "-m", "prunelab", "validate", "config.yaml")
    assert proc.returncode != 0
    assert (
        "FigureType 'stage_counts' is declared twice: in prunelab.analysis.stage_counts and in "
        "prunelab.analysis.stage_counts_again" in proc.stderr
    )
