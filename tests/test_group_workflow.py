"""runtime.group_seeds end to end: one train_group job trains the seed replicates, each into its own run dir."""

import json
import shutil
from pathlib import Path

import pytest
import torch
import yaml
from conftest import ROOT, planned_jobs, snakemake

from prunelab.jobs.kinds import run_dense
from prunelab.jobs.runtime import Runtime
from prunelab.plan.seed_groups import group_hash
from prunelab.records.hashing import spec_hash
from prunelab.records.storage import load_tensors

pytestmark = pytest.mark.e2e
TINY = ROOT / "tests" / "configs" / "tiny.yaml"
DENSE_FILES = ["metrics.json", "model.pt", "snapshots.pt", "spec.json"]


def write_config(workdir: Path, group_seeds: bool, seeds=(0, 1, 2)) -> Path:
    config = yaml.safe_load(TINY.read_text())
    config["runtime"] = {"group_seeds": group_seeds, "device": "cpu"}
    config["dense"]["lenet"]["seeds"] = list(seeds)
    config["pruning"] = {"magnitude": {"method": "magnitude"}}
    config["branches"] = {}
    config["figures"] = {}
    config["experiments"]["oneshot"].update(pruning=["magnitude"], sparsities=[0.5], branches=[])
    path = workdir / "config.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


@pytest.fixture(scope="module")
def grouped_run(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("grouped")
    config = write_config(workdir, group_seeds=True)
    proc = snakemake(workdir, "--configfile", str(config), "--cores", "2")
    return workdir, config, proc


def dense_dirs(workdir: Path) -> list[Path]:
    return sorted((workdir / "results" / "runs" / "dense").iterdir())


def test_one_job_trains_every_seed_into_its_own_run_dir(grouped_run):
    workdir, _, proc = grouped_run
    text = proc.stdout + proc.stderr
    assert "checkpoint train_group:" in text and "rule train:" not in text
    dirs = dense_dirs(workdir)
    assert len(dirs) == 3
    members = [d.name for d in dirs]
    group = group_hash(members)
    marker = json.loads((workdir / "results" / "groups" / group / "group.json").read_text())
    assert marker["mode"] == "vmap" and marker["k"] == 3
    assert [m["run"] for m in marker["members"]] == members and all(m["trained"] for m in marker["members"])
    seeds = set()
    for run in dirs:
        record = json.loads((run / "provenance.json").read_text())
        spec = json.loads((run / "spec.json").read_text())
        assert spec_hash(spec) == run.name == record["hash"]
        assert sorted(record["outputs"]) == DENSE_FILES
        assert record["grouped"] == {"group": group, "k": 3, "members": members, "mode": "vmap"}
        assert "epoch 2/2" in (run / "logs" / "train.log").read_text()
        seeds.add(spec["seed"]["init"])
    assert seeds == {0, 1, 2}
    assert len(list((workdir / "results" / "runs" / "prune").iterdir())) == 3
    assert len((workdir / "results" / "tables" / "tiny" / "oneshot.csv").read_text().splitlines()) == 1 + 3 + 3


def test_a_member_equals_its_single_run(grouped_run, tmp_path):
    workdir, _, _ = grouped_run
    run = dense_dirs(workdir)[1]
    spec = json.loads((run / "spec.json").read_text())
    single = tmp_path / "runs" / "dense" / run.name
    run_dense(spec, single, Runtime(results=tmp_path, device="cpu", threads=1), log=lambda _: None)
    grouped_state, single_state = load_tensors(run / "model.pt"), load_tensors(single / "model.pt")
    for name, value in single_state.items():
        torch.testing.assert_close(grouped_state[name], value, rtol=1e-4, atol=1e-5, msg=name)
    grouped_m, single_m = (json.loads((d / "metrics.json").read_text()) for d in (run, single))
    assert grouped_m.keys() == single_m.keys()
    assert grouped_m["final"]["test_acc"] == pytest.approx(single_m["final"]["test_acc"], abs=0.6)


def test_second_invocation_and_switching_grouping_off_schedule_nothing(grouped_run):
    workdir, config, _ = grouped_run
    proc = snakemake(workdir, "--configfile", str(config), "-n")
    assert planned_jobs(proc) == {} and "Nothing to be done" in proc.stdout + proc.stderr
    separate = write_config(workdir, group_seeds=False)
    proc = snakemake(workdir, "--configfile", str(separate), "-n")
    assert planned_jobs(proc) == {}, proc.stdout  # same run hashes and the same downstream inputs
    write_config(workdir, group_seeds=True)


def copy_results(workdir: Path, tmp_path: Path) -> Path:
    work = tmp_path / "copy"
    shutil.copytree(workdir, work, symlinks=True)
    return work


def test_switching_grouping_on_over_finished_runs_only_writes_the_marker(grouped_run, tmp_path):
    work = copy_results(grouped_run[0], tmp_path)
    markers = list((work / "results" / "groups").glob("*/group.json"))
    assert len(markers) == 1
    markers[0].unlink()  # what a results tree trained without grouping looks like
    stamps = {p: p.stat().st_mtime_ns for p in (work / "results" / "runs").rglob("*.pt")}
    config = write_config(work, group_seeds=True)
    proc = snakemake(work, "--configfile", str(config), "--cores", "2")
    text = proc.stdout + proc.stderr
    assert "checkpoint train_group:" in text and "rule prune:" not in text and "rule aggregate:" not in text
    assert json.loads(markers[0].read_text())["mode"] == "reused"
    assert stamps == {p: p.stat().st_mtime_ns for p in (work / "results" / "runs").rglob("*.pt")}


def test_adding_a_seed_trains_only_the_new_seed(grouped_run, tmp_path):
    work = copy_results(grouped_run[0], tmp_path)
    before = {d.name: (d / "model.pt").read_bytes() for d in dense_dirs(work)}
    config = write_config(work, group_seeds=True, seeds=(0, 1, 2, 3))
    proc = snakemake(work, "--configfile", str(config), "--cores", "2")
    text = proc.stdout + proc.stderr
    assert text.count("checkpoint train_group:") == 1 and text.count("rule prune:") == 1, text
    dirs = dense_dirs(work)
    marker = json.loads((work / "results" / "groups" / group_hash([d.name for d in dirs]) / "group.json").read_text())
    new = [m["run"] for m in marker["members"] if m["trained"]]
    assert len(new) == 1 and new[0] not in before and marker["mode"] == "separate" and marker["k"] == 1
    assert all((work / "results" / "runs" / "dense" / h / "model.pt").read_bytes() == b for h, b in before.items())
    assert planned_jobs(snakemake(work, "--configfile", str(config), "-n")) == {}
