"""End to end: every branch type and three IMP levels through Snakemake; a fourth level reuses the first three."""

import json

import pytest
import yaml
from conftest import ROOT, planned_jobs, snakemake

from prunelab.pruning.select import prune_count
from prunelab.records.storage import load_tensors

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
    assert sorted(branches["branch_type"]) == sorted(
        ["finetune", "rewind_weights", "rewind_lr", "lottery", "reinit", "scratch_e", "scratch_b"]
    )
    assert (branches["sparsity"].round(6) == round(prune_count(0.8, 266200) / 266200, 6)).all()
    assert branches[["test_acc", "best_test_acc", "train_loss", "epochs", "ops", "params"]].notna().all().all()
    scratch_b = branches[branches["branch_type"] == "scratch_b"].iloc[0]
    scratch_e = branches[branches["branch_type"] == "scratch_e"].iloc[0]
    assert scratch_b["epochs"] > scratch_e["epochs"] == 2
    # LeNet-300-100 has no conv layers: Scratch-E is the reinit computation, trained once, in both rows
    reinit = branches[branches["branch_type"] == "reinit"].iloc[0]
    assert scratch_e["run"] == reinit["run"] and scratch_e["test_acc"] == reinit["test_acc"]


def test_imp_levels_are_nested_with_exact_sparsity(finished):
    table = read_table(finished, "imp")
    pruned = table[table["stage"] == "pruned"].sort_values("level")
    assert list(pruned["level"]) == [1, 2, 3]
    masks = []
    for run in pruned["run"]:
        masks.append(load_tensors(finished / "results" / "runs" / "prune" / run / "mask.pt"))
    n = sum(m.numel() for m in masks[0].values())
    for level, mask in enumerate(masks, start=1):
        assert n - sum(int(m.sum()) for m in mask.values()) == prune_count(1 - 0.8**level, n)
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
    assert counts == {
        "prune": 1,
        "branch": 1,
        "manifest": 1,
        "aggregate": 1,
        "figure_accuracy_vs_sparsity": 1,
        "provenance_summary": 1,
        "replication": 1,
        "audit": 1,
        "all": 1,
    }


def test_liu_figures_draw_from_the_real_tables(finished, tmp_path):
    """Table 1 (every column), weight-level and lottery figures on tables the workflow really aggregated."""
    import pandas as pd

    from prunelab.analysis.figures import draw

    tables = [finished / "results" / "tables" / "branches" / f"{name}.csv" for name in ("oneshot", "imp")]
    for kind in ("rethinking_table1", "rethinking_weight_level", "rethinking_lottery"):
        draw({"type": kind, "experiments": ["oneshot", "imp"]}, tables, tmp_path / f"{kind}.png", tmp_path, kind)
        assert (tmp_path / f"{kind}.png").stat().st_size > 0
    table1 = pd.read_csv(tmp_path / "rethinking_table1.csv")
    accuracy = table1[table1["quantity"] == "test_acc"]
    assert sorted(accuracy["column"]) == ["finetune", "scratch_b", "scratch_e", "unpruned"]
    assert accuracy["published_mean"].isna().all()  # lenet_300_100 on digits is not in Liu et al.'s Table 1
    oneshot = pd.read_csv(tables[0])
    ops = oneshot.groupby("stage")["ops"].first()
    factor = table1[table1["quantity"] == "scratch_b_epoch_factor"]["ours_mean"].iloc[0]
    assert factor == pytest.approx(ops["dense"] / ops["pruned"] - 1, rel=1e-5)
    lottery = pd.read_csv(tmp_path / "rethinking_lottery.csv")
    assert set(lottery["init"]) == {"winning ticket", "random re-init"} and set(lottery["level"]) == {0, 1, 2, 3}
