"""End to end: every branch type and three IMP levels through Snakemake; a fourth level reuses the first three."""

import json

import pytest
import yaml

from conftest import ROOT, planned_jobs, snakemake
from prunelab.pruning.select import prune_count
from prunelab.storage import load_tensors

pytestmark = pytest.mark.e2e
CONFIG = ROOT / "tests" / "configs" / "branches.yaml"


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("branches")
    config = workdir / "config.yaml"
    config.write_text(CONFIG.read_text())
    snakemake(workdir, "--configfile", str(config), "--cores", "2")
    return workdir


def read_table(workdir, name):
    import pandas as pd

    return pd.read_csv(workdir / "results" / "tables" / "branches" / f"{name}.csv")


def test_every_branch_ran_and_recorded_its_accounting(finished):
    table = read_table(finished, "oneshot")
    branches = table[table["stage"] == "branch"]
    assert sorted(branches["branch_type"]) == sorted(["finetune", "rewind_weights", "rewind_lr", "lottery", "reinit",
                                                      "scratch_e", "scratch_b"])
    assert (branches["sparsity"].round(6) == round(prune_count(0.8, 266200) / 266200, 6)).all()
    assert branches[["test_acc", "best_test_acc", "train_loss", "epochs", "ops", "params"]].notna().all().all()
    scratch_b = branches[branches["branch_type"] == "scratch_b"].iloc[0]
    scratch_e = branches[branches["branch_type"] == "scratch_e"].iloc[0]
    assert scratch_b["epochs"] > scratch_e["epochs"] == 2


def test_imp_levels_are_nested_with_exact_sparsity(finished):
    table = read_table(finished, "imp")
    pruned = table[table["stage"] == "pruned"].sort_values("level")
    assert list(pruned["level"]) == [1, 2, 3]
    masks = []
    for run in pruned["run"]:
        masks.append(load_tensors(finished / "results" / "runs" / "prune" / run / "mask.pt"))
    n = sum(m.numel() for m in masks[0].values())
    for level, mask in enumerate(masks, start=1):
        assert n - sum(int(m.sum()) for m in mask.values()) == prune_count(1 - 0.8 ** level, n)
    for outer, inner in zip(masks, masks[1:]):
        assert all(not (inner[k] & ~outer[k]).any() for k in inner)
    # level L scores the level L-1 branch's weights
    spec2 = json.loads((finished / "results" / "runs" / "prune" / pruned["run"].iloc[1] / "spec.json").read_text())
    assert spec2["parents"]["source"].startswith("branch/")


def test_adding_a_fourth_level_schedules_only_its_jobs(finished):
    config = yaml.safe_load(CONFIG.read_text())
    config["experiments"]["imp"]["iterative"]["levels"] = 4
    path = finished / "config4.yaml"
    path.write_text(yaml.safe_dump(config))
    counts = planned_jobs(snakemake(finished, "--configfile", str(path), "-n"))
    assert counts == {"prune": 1, "branch": 1, "manifest": 1, "aggregate": 1, "figure": 1, "all": 1}
