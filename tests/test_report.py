"""The Snakemake report's own texts and order, without running a workflow: the suite description says what the
config runs, and the replication page is the first category a reader sees."""

import types

import jinja2
import yaml
from conftest import ROOT

from prunelab.analysis.figures import figure_types
from prunelab.config.validation import validate_config
from prunelab.replication.page import CATEGORY

WORKFLOW_RST = ROOT / "workflow" / "report" / "workflow.rst"


def _describe(config: dict) -> str:
    """workflow.rst as the report renders it (Snakemake passes the validated config as snakemake.config)."""
    template = jinja2.Template(WORKFLOW_RST.read_text())
    return template.render(snakemake=types.SimpleNamespace(config=validate_config(config)))


def _experiment_line(text: str, name: str) -> str:
    return next(line for line in text.splitlines() if line.startswith(f"- Experiment ``{name}``"))


def test_the_suite_description_says_what_the_iterative_experiment_runs():
    config = yaml.safe_load((ROOT / "config.yaml").read_text())
    imp = _experiment_line(_describe(config), "imp")
    assert "magnitude pruning to the cumulative sparsities 0.5, 0.8, 0.95" in imp
    assert "rewind branch" in imp and "side branches reinit" in imp
    assert "rate" not in imp and "levels" not in imp  # the schema's default rate is not what runs
    config["experiments"]["imp"]["iterative"] = {"pruning": "magnitude", "levels": 4, "rate": 0.3, "branch": "rewind"}
    imp = _experiment_line(_describe(config), "imp")
    assert "in 4 levels, each removing 0.3 of the survivors" in imp and "sparsities" not in imp


def test_the_replication_page_is_the_first_category_of_the_report():
    categories = {kind.paper for kind in figure_types().values()} | {"Provenance", CATEGORY}
    # the report's menu orders categories with localeCompare: digits before letters, case ignored
    assert sorted(categories, key=str.casefold)[0] == CATEGORY
    assert ".html`_" in WORKFLOW_RST.read_text()  # and the description links to it first
