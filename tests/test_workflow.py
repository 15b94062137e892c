"""End to end through Snakemake's CLI on a tiny config: outputs, provenance, caching by spec hash."""

import json
import re
import shutil
from pathlib import Path

import pandas as pd
import pytest
import yaml
from conftest import ROOT, planned_jobs, snakemake

from prunelab.records.hashing import spec_hash
from prunelab.replication.claim import VERDICTS
from prunelab.replication.papers import all_claims

pytestmark = pytest.mark.e2e
TINY = ROOT / "tests" / "configs" / "tiny.yaml"
# one figure of each paper module that the tiny one-shot table can feed (the others need runs it lacks)
PAPER_FIGURES = {
    "liu_table1": {
        "type": "rethinking_table1",
        "experiments": ["oneshot"],
        "options": {"architectures": {"magnitude": "A", "random": "B"}},
    },
    "liu_weight_level": {
        "type": "rethinking_weight_level",
        "experiments": ["oneshot"],
        "options": {"branch_types": ["finetune"]},
    },
    "laurent_loss": {"type": "lossmodel_loss_vs_accuracy", "experiments": ["oneshot"]},
    "sipp_retained": {"type": "sipp_accuracy_vs_retained", "experiments": ["oneshot"], "options": {"retained": "all"}},
    "wang_lr": {"type": "dyniso_finetune_lr", "experiments": ["oneshot"]},
}


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
    expected = {
        "dense": ["model.pt", "snapshots.pt", "metrics.json", "spec.json"],
        "prune": ["mask.pt", "metrics.json", "spec.json"],
        "branch": ["model.pt", "mask.pt", "metrics.json", "spec.json"],
    }
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
    for path in (
        "tables/tiny/oneshot.csv",
        "tables/tiny/oneshot.provenance.json",
        "figures/tiny/acc.png",
        "figures/tiny/acc.pdf",
        "figures/tiny/acc.provenance.json",
    ):
        assert (results / path).stat().st_size > 0, path
    table = (results / "tables/tiny/oneshot.csv").read_text().splitlines()
    assert len(table) == 1 + 1 + 4 + 4  # header, dense, pruned, branch rows
    replication = pd.read_csv(results / "replication/tiny.csv")
    assert set(replication["verdict"]) <= set(VERDICTS) and len(replication) >= len(all_claims())
    sidecar = json.loads((results / "replication/tiny.provenance.json").read_text())
    assert set(sidecar["inputs"]) == {"tables/tiny/oneshot.csv"}
    page = (results / "replication/tiny.md").read_text()
    assert page.startswith("# Did it replicate? Suite `tiny`\n\n") and "**Compared:**" in page
    assert "<h1>Did it replicate? Suite <code>tiny</code></h1>" in (results / "replication/tiny.html").read_text()


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
    assert planned_jobs(proc) == {
        "prune": 2,
        "branch": 2,
        "manifest": 1,
        "aggregate": 1,
        "figure_accuracy_vs_sparsity": 1,
        "provenance_summary": 1,
        "replication": 1,
        "audit": 1,
        "all": 1,
    }
    done = snakemake(work, "--configfile", str(edited), "--cores", "2")
    text = done.stdout + done.stderr
    assert "Replication (tiny):" in text  # the onsuccess summary
    # each job a few short lines: the audit's inputs (every run's files, 1,700 in the demo) are three names and a count
    audit = text[text.index("rule audit:") :]
    assert re.search(r"\n    input: [^\n]*, \.\.\. \d+ more\n", audit.split("\n\n")[0]), audit[:2000]
    assert max(map(len, text.splitlines())) < 1000
    reverted = write_config(work)
    counts = planned_jobs(snakemake(work, "--configfile", str(reverted), "-n"))
    assert not {"train", "prune", "branch"} & set(counts), counts  # only the cheap tables/figures follow the config


def test_report_shows_every_figure_with_its_caption_and_provenance(finished, tmp_path):
    workdir, _ = finished
    work = tmp_path / "report"
    shutil.copytree(workdir, work, symlinks=True)
    config = write_config(work, lambda c: c["figures"].update(PAPER_FIGURES))
    expected = {f"figure_{spec['type']}": 1 for spec in PAPER_FIGURES.values()}
    assert planned_jobs(snakemake(work, "--configfile", str(config), "-n")) == {
        **expected,
        "provenance_summary": 1,
        "audit": 1,
        "all": 1,
    }
    snakemake(work, "--configfile", str(config), "--cores", "2")
    reported = snakemake(work, "--configfile", str(config), "--report", "results/report.html")
    assert "Could not detect mimetype" not in reported.stdout + reported.stderr  # every entry has a mimetype
    html = (work / "results" / "report.html").read_text()
    for name in ["acc", *PAPER_FIGURES]:
        assert f"{name}.png" in html and f"{name}.csv" in html, name
    assert "Reproduces <strong>Table 1 of Liu et al. 2019</strong>" in html  # the type's caption
    assert "Tables: oneshot (9 rows: 4 branch, 1 dense, 4 pruned)." in html  # the figure's summary, included
    assert "Dense lenet: lenet_300_100 on digits, dense LR 0.05, seeds 0." in html
    assert "runs_provenance.csv" in html and "config.yaml" in html and "tiny.html" in html
    assert "config_sha256=" in html  # job parameters: a digest, not the config as escaped JSON
    runtimes = [float(t) for t in re.findall(r'"runtime": (-?[0-9.e+-]+)', html)]
    assert runtimes and min(runtimes) > 0  # a runtime ≤ 0 breaks the Statistics plot's log axis
    assert 'Experiment <tt class=\\"docutils literal\\">oneshot</tt>' in html  # the suite description
    summary = (work / "results" / "report" / "tiny" / "runs_provenance.csv").read_text().splitlines()
    assert [line.split(",")[0] for line in summary[1:]] == ["dense", "prune", "branch", "table", "figure"]
    # the report adds no job: a second invocation still has nothing to do
    proc = snakemake(work, "--configfile", str(config), "-n")
    assert planned_jobs(proc) == {} and "Nothing to be done" in proc.stdout + proc.stderr
