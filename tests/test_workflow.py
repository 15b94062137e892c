"""End to end through Snakemake's CLI on a tiny config: outputs, provenance, caching by spec hash."""

import json
import shutil
from pathlib import Path

import pytest
import yaml

from conftest import ROOT, planned_jobs, snakemake
from prunelab.spec import spec_hash

pytestmark = pytest.mark.e2e
TINY = ROOT / "tests" / "configs" / "tiny.yaml"


def write_config(workdir: Path, edit=None) -> Path:
    config = yaml.safe_load(TINY.read_text())
    if edit:
        edit(config)
    path = workdir / "config.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    """One real run of the tiny workflow, shared by the tests of this module."""
    workdir = tmp_path_factory.mktemp("tiny")
    config = write_config(workdir)
    snakemake(workdir, "--configfile", str(config), "--cores", "2")
    return workdir, config


def test_every_output_exists_with_provenance(finished):
    workdir, _ = finished
    results = workdir / "results"
    runs = {kind: sorted(p.name for p in (results / "runs" / kind).iterdir()) for kind in ("dense", "prune", "branch")}
    assert [len(runs[k]) for k in ("dense", "prune", "branch")] == [1, 4, 4]
    expected = {"dense": ["model.pt", "snapshots.pt", "metrics.json", "spec.json"],
                "prune": ["mask.pt", "metrics.json", "spec.json"],
                "branch": ["model.pt", "mask.pt", "metrics.json", "spec.json"]}
    for kind, hashes in runs.items():
        for h in hashes:
            run = results / "runs" / kind / h
            record = json.loads((run / "provenance.json").read_text())
            spec = json.loads((run / "spec.json").read_text())
            assert spec_hash(spec) == h == record["hash"]
            assert sorted(record["outputs"]) == sorted(expected[kind])
            assert record["environment"]["torch"] and record["hardware"]["cpu"]
            for role, link in spec.get("parents", {}).items():
                assert record["parents"][role]["hash"] == link.split("/")[1]
    for path in ("tables/tiny/oneshot.csv", "tables/tiny/oneshot.provenance.json", "figures/tiny/acc.png",
                 "figures/tiny/acc.pdf", "figures/tiny/acc.provenance.json"):
        assert (results / path).stat().st_size > 0, path
    table = (results / "tables/tiny/oneshot.csv").read_text().splitlines()
    assert len(table) == 1 + 1 + 4 + 4  # header, dense, pruned, branch rows


def test_second_invocation_schedules_nothing(finished):
    workdir, config = finished
    proc = snakemake(workdir, "--configfile", str(config), "-n")
    assert planned_jobs(proc) == {} and "Nothing to be done" in proc.stdout + proc.stderr


def test_editing_one_pruning_setting_reruns_only_its_jobs_and_reverting_reruns_none(finished, tmp_path):
    workdir, config = finished
    work = tmp_path / "copy"
    shutil.copytree(workdir, work, symlinks=True)
    edited = write_config(work, lambda c: c["pruning"]["random"].update(seed=4))
    proc = snakemake(work, "--configfile", str(edited), "-n")
    assert planned_jobs(proc) == {"prune": 2, "branch": 2, "manifest": 1, "aggregate": 1, "figure": 1, "audit": 1,
                                  "all": 1}
    snakemake(work, "--configfile", str(edited), "--cores", "2")
    reverted = write_config(work)
    counts = planned_jobs(snakemake(work, "--configfile", str(reverted), "-n"))
    assert not {"train", "prune", "branch"} & set(counts), counts  # only the cheap tables/figures follow the config
