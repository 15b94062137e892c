"""A suite made of other suites (``include:``): the union of their runs, and one line for what cannot merge."""

import pytest
import yaml
from conftest import ROOT, snakemake

from prunelab.cli.commands import main
from prunelab.config.validation import load_config
from prunelab.plan.build import build_plan

EXPERIMENTS = ROOT / "workflow" / "experiments"
TINY = yaml.safe_load((ROOT / "tests" / "configs" / "tiny.yaml").read_text())


def planned(path) -> set[str]:
    return set(build_plan(load_config(path)).specs)


def test_the_combined_record_plans_exactly_the_union_of_the_papers_suites():
    combined = yaml.safe_load((EXPERIMENTS / "fashion-mnist-papers.yaml").read_text())
    parts = [planned(EXPERIMENTS / name) for name in combined["include"]]
    assert len(parts) == 4
    assert planned(EXPERIMENTS / "fashion-mnist-papers.yaml") == set().union(*parts)
    assert load_config(EXPERIMENTS / "fashion-mnist-papers.yaml")["suite"] == "fashion-mnist-papers"


def write(directory, name, config):
    path = directory / name
    path.write_text(yaml.safe_dump(config))
    return path


def other_suite():
    """tiny.yaml's twin with other names and a second seed: a second paper's part."""
    return {
        "suite": "other",
        "dense": {"lenet_b": {**TINY["dense"]["lenet"], "seeds": [1]}},
        "pruning": {"magnitude": TINY["pruning"]["magnitude"]},
        "experiments": {"oneshot_b": {"dense": ["lenet_b"], "pruning": ["magnitude"], "sparsities": [0.5]}},
    }


@pytest.fixture
def parts(tmp_path):
    write(tmp_path, "tiny.yaml", TINY)
    write(tmp_path, "other.yaml", other_suite())
    return tmp_path


def test_included_suites_merge_and_the_including_file_names_the_suite(parts):
    path = write(parts, "both.yaml", {"suite": "both", "include": ["tiny.yaml", "other.yaml"]})
    config = load_config(path)
    assert config["suite"] == "both" and config["results"] == "results"
    assert set(config["dense"]) == {"lenet", "lenet_b"} and set(config["experiments"]) == {"oneshot", "oneshot_b"}
    assert planned(path) == planned(parts / "tiny.yaml") | planned(parts / "other.yaml")


def refused(capsys, path) -> str:
    assert main(["validate", str(path)]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1, lines
    return lines[0]


def test_an_entry_defined_differently_in_two_parts_is_refused_naming_both_files(parts, capsys):
    other = other_suite()
    other["pruning"]["magnitude"] = {"method": "magnitude", "scope": "layerwise"}
    write(parts, "other.yaml", other)
    path = write(parts, "both.yaml", {"suite": "both", "include": ["tiny.yaml", "other.yaml"]})
    line = refused(capsys, path)
    assert f"{path}: key include: pruning.magnitude is defined differently in {parts / 'tiny.yaml'} and " in line
    assert line.endswith(f"{parts / 'other.yaml'}; rename one")


def test_a_setting_that_differs_between_parts_must_be_set_by_the_including_file(parts, capsys):
    write(parts, "other.yaml", {**other_suite(), "results": "elsewhere"})
    path = write(parts, "both.yaml", {"suite": "both", "include": ["tiny.yaml", "other.yaml"]})
    line = refused(capsys, path)
    assert line.endswith(
        f"key include: results differs between {parts / 'tiny.yaml'} and {parts / 'other.yaml'}; set it in {path}"
    )
    path = write(parts, "both.yaml", {"suite": "both", "results": "mine", "include": ["tiny.yaml", "other.yaml"]})
    assert load_config(path)["results"] == "mine"


@pytest.mark.parametrize(
    "include,expected",
    [
        (["missing.yaml"], "missing.yaml: config file not found"),
        (["nested.yaml"], "nested.yaml includes other files; include those suites directly"),
        ("tiny.yaml", "key include: a list of suite config files"),
    ],
)
def test_bad_includes_are_one_line(parts, capsys, include, expected):
    write(parts, "nested.yaml", {"suite": "nested", "include": ["tiny.yaml"]})
    path = write(parts, "both.yaml", {"suite": "both", "include": include})
    assert expected in refused(capsys, path)


def test_snakemake_runs_the_combined_suite_and_stops_on_a_conflict_before_any_job(parts):
    path = write(parts, "both.yaml", {"suite": "both", "include": ["tiny.yaml", "other.yaml"]})
    dry = snakemake(parts, "--configfile", str(path), "-n", "--quiet", "rules")
    counts = dict(line.split()[:2] for line in dry.stdout.splitlines() if line.split()[:1] in (["train"], ["prune"]))
    assert counts == {"train": "2", "prune": "5"}  # tiny: 1 dense, 4 masks; other: 1 dense, 1 mask
    other = other_suite()
    other["dense"]["lenet"] = other["dense"].pop("lenet_b") | {"seeds": [7]}
    write(parts, "other.yaml", other)
    proc = snakemake(parts, "--configfile", str(path), "-n", check=False)
    assert proc.returncode != 0
    assert "key include: dense.lenet is defined differently in" in proc.stdout + proc.stderr
    assert not (parts / "results").exists()
