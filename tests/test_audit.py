"""``prunelab audit``/``lineage``/``show``/``list`` on a real results tree made once by the tiny workflow.

Each tampering test works on its own copy of the tree, alters one thing the way a person or a broken job
could, and checks that the audit names exactly that thing (one line), keeps going, and exits non-zero.
"""

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest
import yaml
from conftest import ROOT, planned_jobs, snakemake

from prunelab.cli.commands import main
from prunelab.config.validation import load_config
from prunelab.plan.build import build_plan
from prunelab.records.lineage import lineage

pytestmark = pytest.mark.e2e
TINY = ROOT / "tests" / "configs" / "tiny.yaml"


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    """The tiny workflow run once (its audit target included); tests copy it before altering anything."""
    workdir = tmp_path_factory.mktemp("tiny-audit")
    shutil.copy(TINY, workdir / "config.yaml")
    snakemake(workdir, "--configfile", str(workdir / "config.yaml"), "--cores", "2")
    return workdir


@pytest.fixture
def tree(finished, tmp_path):
    """A private copy of the finished workdir: (results root, config path)."""
    work = tmp_path / "work"
    shutil.copytree(finished, work, ignore=shutil.ignore_patterns(".snakemake"))
    return work / "results", work / "config.yaml"


DIRTY = "made from a source tree with uncommitted changes"


def audit(capsys, *args, keep_dirty=False):
    """Run ``prunelab audit``; return (exit status, problem lines).

    The tree was made by this checkout, so while it has uncommitted changes every output carries a
    dirty-tree warning; that line is dropped unless a test is about it."""
    status = main(["audit", *map(str, args)])
    captured = capsys.readouterr()
    assert captured.err == ""  # results and verdict all go to stdout
    *problems, summary = captured.out.splitlines()
    assert summary.startswith("audit ") and summary.endswith(" warnings"), summary
    return status, [line for line in problems if line and (keep_dirty or DIRTY not in line)]


def runs(results: Path, kind: str) -> list[Path]:
    return sorted((results / "runs" / kind).iterdir())


def manifest_runs(results: Path) -> set[str]:
    rows = json.loads((results / "tables/tiny/oneshot.manifest.json").read_text())["rows"]
    return {f"{row['kind']}/{row['run']}" for row in rows}


def errors(lines):
    return [line for line in lines if line.startswith("error:")]


def path_of(line: str) -> str:
    return line.split(": ", 2)[1]


def message_of(line: str) -> str:
    return line.split(": ", 2)[2]


# -- the workflow's audit target --------------------------------------------------------------------------
def test_workflow_writes_a_clean_audit_and_a_second_invocation_schedules_nothing(finished):
    report = json.loads((finished / "results/audit/tiny.json").read_text())
    assert report["ok"] and report["errors"] == 0 and report["runs"] == 9
    assert all(f["check"] == "dirty-tree" for f in report["findings"])
    assert (finished / "results/audit/tiny.txt").read_text().splitlines()[-1].startswith("audit results: runs 9")
    proc = snakemake(finished, "--configfile", str(finished / "config.yaml"), "-n")
    assert planned_jobs(proc) == {} and "Nothing to be done" in proc.stdout + proc.stderr


def test_touching_an_audited_file_reaudits_only(finished, tmp_path):
    work = tmp_path / "work"
    shutil.copytree(finished, work, symlinks=True)
    mask = runs(work / "results", "prune")[0] / "mask.pt"
    mask.write_bytes(mask.read_bytes()[:-1])  # altered: Snakemake ignores a newer mtime with unchanged content
    counts = planned_jobs(snakemake(work, "--configfile", str(work / "config.yaml"), "-n"))
    assert counts == {"audit": 1, "all": 1}, counts


# -- clean tree ----------------------------------------------------------------------------------------------
def test_clean_tree_exits_zero_with_no_lines_and_hashes_each_file_once(tree, capsys):
    results, config = tree
    assert audit(capsys, results) == (0, [])
    assert audit(capsys, results, "--config", config) == (0, [])
    assert main(["audit", str(results), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    files = [
        p
        for area in ("runs", "tables", "figures", "replication")
        for p in (results / area).rglob("*")
        if p.is_file() and "logs" not in p.parts
    ]
    # runs, tables, the figure (png, pdf, csv, summary, sidecar) and the replication table (csv, md, html, sidecar)
    assert report["files_hashed"] == len(files) == 53


def test_logs_and_resume_state_are_not_outputs(tree, capsys):
    results, _ = tree
    run = runs(results, "dense")[0]
    (run / "train_state.pt").write_bytes(b"resume state")
    (run / "logs" / "extra.log").write_text("more log")
    assert audit(capsys, results) == (0, [])


def test_json_report_lists_findings(tree, capsys):
    results, _ = tree
    (runs(results, "prune")[0] / "notes.txt").write_text("hand-written")
    assert main(["audit", str(results), "--json"]) == 1
    report = json.loads(capsys.readouterr().out)
    assert not report["ok"] and report["runs"] == 9 and report["tables"] == 1 and report["figures"] == 1
    assert [(f["check"], Path(f["path"]).name) for f in report["findings"] if f["check"] != "dirty-tree"] == [
        ("no-provenance", "notes.txt")
    ]


# -- tampering ----------------------------------------------------------------------------------------------
def test_flipped_byte_in_a_mask_names_that_file(tree, capsys):
    results, _ = tree
    mask = runs(results, "prune")[1] / "mask.pt"
    data = bytearray(mask.read_bytes())
    data[len(data) // 2] ^= 0x01
    mask.write_bytes(bytes(data))
    status, lines = audit(capsys, results)
    assert status == 1 and lines == [
        f"error: {mask}: sha256 differs from prune/{mask.parent.name}/provenance.json "
        "(altered or truncated since written)"
    ]


def test_edited_metric_in_a_table_names_the_table(tree, capsys):
    results, _ = tree
    table = results / "tables/tiny/oneshot.csv"
    lines = table.read_text().splitlines()
    cells = lines[1].split(",")
    column = lines[0].split(",").index("test_acc")
    cells[column] = str(float(cells[column]) + 1.0)  # test_acc of the dense row
    table.write_text("\n".join([lines[0], ",".join(cells), *lines[2:]]) + "\n")
    status, found = audit(capsys, results)
    assert status == 1 and len(found) == 1 and found[0].startswith(f"error: {table}: sha256 differs")


def test_deleted_parent_run_names_every_broken_link(tree, capsys):
    results, _ = tree
    parent = runs(results, "prune")[0]
    shutil.rmtree(parent)
    children = [
        run
        for run in runs(results, "branch")
        if json.loads((run / "spec.json").read_text())["parents"]["prune"] == f"prune/{parent.name}"
    ]
    status, found = audit(capsys, results)
    assert status == 1 and len(children) == 1
    assert sorted(found) == sorted(
        [
            f"error: {children[0]}: parent prune/{parent.name} (prune) is missing: broken link",
            f"error: {results / 'tables/tiny/oneshot.csv'}: parent prune/{parent.name} is missing: broken link",
        ]
    )


def test_edited_spec_is_a_hash_mismatch(tree, capsys):
    results, _ = tree
    spec_path = runs(results, "prune")[0] / "spec.json"
    spec = json.loads(spec_path.read_text())
    spec["sparsity"] = 0.55
    spec_path.write_text(json.dumps(spec))
    status, found = audit(capsys, results)
    assert status == 1 and len(found) == 1
    assert found[0].startswith(f"error: {spec_path}: hashes to ") and spec_path.parent.name in found[0]


def test_run_copied_under_another_hash_is_detected(tree, capsys):
    results, _ = tree
    original = runs(results, "branch")[0]
    copy = original.with_name("0123456789abcdef")
    shutil.copytree(original, copy)
    status, found = audit(capsys, results)
    assert status == 1 and found == [
        f"error: {copy}: spec.json and provenance.json describe run branch/{original.name}, not {copy.name}: the "
        f"directory was copied or renamed; branch/{original.name} exists too"
    ]


def test_rerun_parent_is_a_changed_link(tree, capsys):
    results, _ = tree
    dense = runs(results, "dense")[0] / "provenance.json"
    record = json.loads(dense.read_text())
    record["finished"] = "2031-01-01T00:00:00+00:00"  # as if rerun: same outputs, new provenance
    dense.write_text(json.dumps(record))
    status, found = audit(capsys, results)
    dependants = {f"{kind}/{run.name}" for kind in ("prune", "branch") for run in runs(results, kind)}
    assert status == 1 and len(found) == len(dependants) + 1  # every child and the table
    assert all("was rerun or edited after this was made" in message_of(line) for line in found)


# -- bad input: one line each, keep going ---------------------------------------------------------------------
@pytest.mark.parametrize("make", ["missing", "file", "empty-dir"])
def test_not_a_results_tree_is_one_line(tmp_path, capsys, make):
    path = tmp_path / "x"
    if make == "file":
        path.write_text("not a tree")
    elif make == "empty-dir":
        path.mkdir()
    status, found = audit(capsys, path)
    assert status == 1 and len(found) == 1 and found[0].startswith(f"error: {path}: ")


def test_unreadable_json_and_truncated_files_are_one_line_each_and_the_audit_goes_on(tree, capsys):
    results, _ = tree
    record = runs(results, "branch")[0] / "provenance.json"
    record.write_text(record.read_text()[:200])  # truncated JSON
    mask = runs(results, "prune")[2] / "mask.pt"
    mask.write_bytes(mask.read_bytes()[:100])  # truncated tensor file
    sidecar = results / "figures/tiny/acc.provenance.json"
    sidecar.write_bytes(b"\xff\xfe not json")  # unreadable sidecar
    stray = runs(results, "dense")[0] / "weights-copy.pt"
    stray.write_bytes(b"x")  # and an ordinary problem after them
    status, found = audit(capsys, results)
    assert status == 1
    assert [path_of(line) for line in found] == sorted(str(p) for p in (record, mask, sidecar, stray))
    assert message_of(next(line for line in found if path_of(line) == str(record))).startswith("unreadable JSON")


# -- the config's plan -----------------------------------------------------------------------------------------
def edit_random_seed(config):
    """A copy of ``config`` whose random-pruning seed is 4, and the plans before and after that edit."""
    edited = yaml.safe_load(config.read_text())
    edited["pruning"]["random"]["seed"] = 4
    edited_path = config.with_name("edited.yaml")
    edited_path.write_text(yaml.safe_dump(edited))
    return edited_path, build_plan(load_config(config)), build_plan(load_config(edited_path))


def test_stale_and_missing_runs_against_an_edited_config(tree, capsys):
    results, config = tree
    edited_path, old, new = edit_random_seed(config)
    stale = {f"{s['kind']}/{h}" for h, s in old.specs.items() if h not in new.specs}
    missing = {f"{s['kind']}/{h}" for h, s in new.specs.items() if h not in old.specs}
    assert len(stale) == len(missing) == 4  # 2 random prune runs and their 2 branches

    status, found = audit(capsys, results, "--config", edited_path)
    assert status == 1
    assert {path_of(line) for line in found if message_of(line).startswith("stale")} == {
        str(results / "runs" / key) for key in stale
    } | {str(results / "tables/tiny/oneshot.csv")}
    assert {path_of(line) for line in errors(found)} == {str(results / "runs" / key) for key in missing}
    assert all("planned by the config but missing" in message_of(line) for line in errors(found))


# -- warnings: the numbers are right, but look ----------------------------------------------------------------
def _relink(results: Path, run: Path, edit) -> None:
    """Edit a leaf run's provenance and re-record its sha256 in the table that read it (a consistent tree)."""
    record_path = run / "provenance.json"
    record = json.loads(record_path.read_text())
    edit(record)
    record_path.write_text(json.dumps(record, indent=2, sort_keys=True))
    from prunelab.records.storage import sha256_file

    sidecar = results / "tables/tiny/oneshot.provenance.json"
    table = json.loads(sidecar.read_text())
    table["parents"][f"branch/{run.name}"]["provenance_sha256"] = sha256_file(record_path)
    sidecar.write_text(json.dumps(table, indent=2, sort_keys=True))


def test_mixed_environments_behind_a_figure_and_other_code_versions_are_warnings(tree, capsys):
    results, _ = tree
    gpu_run, old_run = runs(results, "branch")[:2]
    _relink(
        results,
        gpu_run,
        lambda r: (
            r["environment"].update(torch="2.9.0", cuda="12.8"),
            r["hardware"].update(gpu="NVIDIA H100 80GB HBM3"),
            r.update(device="cuda"),
        ),
    )
    _relink(results, old_run, lambda r: r["code"].update(git_commit="0" * 40, dirty=True, diff_sha256="ab" * 32))
    status, found = audit(capsys, results, keep_dirty=True)
    assert status == 0 and not errors(found)
    assert len([line for line in found if DIRTY not in line]) == 2
    mixed = next(line for line in found if message_of(line).startswith("its runs come from"))
    assert mixed.startswith(f"warning: {results / 'figures/tiny/acc.png'}: its runs come from 2 environments")
    assert "torch 2.9.0, CUDA 12.8 on NVIDIA H100 80GB HBM3 (1 runs" in mixed
    code = next(line for line in found if message_of(line).startswith("1 run(s) made by code"))
    assert "1 run(s) made by code 0.1.0@0000000+dirty.abababab" in code and old_run.name in code
    assert any(DIRTY in message_of(line) and old_run.name in line for line in found)


# -- lineage, show, list ---------------------------------------------------------------------------------------
def test_lineage_of_the_figure_lists_exactly_the_runs_the_aggregation_read(tree, capsys):
    results, _ = tree
    read = manifest_runs(results)
    import pandas as pd

    table = pd.read_csv(results / "tables/tiny/oneshot.csv")
    table_runs = {f"{kind}/{run}" for kind, run in zip(table["kind"], table["run"])}
    assert read == table_runs and len(read) == 9
    graph = lineage(str(results / "figures/tiny/acc.png"))
    assert graph.runs() == read
    assert main(["lineage", str(results / "figures/tiny/acc.pdf")]) == 0
    text = capsys.readouterr().out
    assert text.splitlines()[0].startswith("figure figures/tiny/acc.png")
    # the figure's inputs: the replication table (its caption's verdicts; it reads tables, no run) and the table
    assert text.splitlines()[1].startswith("├── table replication/tiny.csv  0 runs read")
    assert text.splitlines()[2].startswith("└── table tables/tiny/oneshot.csv  9 runs read")
    assert {key.split("/")[1] for key in read} == {
        h for h in (w.strip() for w in text.split()) if len(h) == 16 and all(c in "0123456789abcdef" for c in h)
    }
    dense = runs(results, "dense")[0].name
    assert f"dense {dense}  lenet_300_100 on digits, 2 epochs, seed 0  [code 0.1.0@" in text
    assert f"dense {dense}  (see above)" in text


def test_lineage_dot_has_each_node_once_and_every_edge(tree, capsys):
    results, _ = tree
    assert main(["lineage", "--dot", str(results / "tables/tiny/oneshot.csv")]) == 0
    dot = capsys.readouterr().out
    assert dot.startswith("digraph lineage {") and dot.rstrip().endswith("}")
    nodes = [line for line in dot.splitlines() if "[label=" in line]
    edges = [line for line in dot.splitlines() if "->" in line]
    assert len(nodes) == 1 + 9
    assert len(edges) == 9 + 4 + 4 * 2  # table←runs, prune←dense, branch←dense and branch←prune


def test_show_by_hash_prefix(tree, capsys):
    results, _ = tree
    run = runs(results, "prune")[0]
    assert main(["show", run.name[:6], "--results", str(results)]) == 0
    out = capsys.readouterr().out
    spec = json.loads(out.split("spec:\n", 1)[1])
    assert out.startswith(f"prune {run.name}  {spec['method']} to sparsity {spec['sparsity']:.4g}")
    assert "right after pruning: test_acc" in out and "audit        ok" in out and spec["kind"] == "prune"
    assert main(["show", "", "--results", str(results)]) == 2  # matches every run: one line, no traceback
    assert "matches 9 runs" in capsys.readouterr().err


def test_list_filters_by_method_and_sparsity(tree, capsys):
    results, _ = tree
    assert main(["list", "--results", str(results), "--method", "magnitude", "--sparsity", "0.9"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split()[:7] == ["kind", "run", "dataset", "model", "method", "sparsity", "scope"]
    assert [line.split()[0] for line in lines[1:]] == ["prune", "branch"]
    assert all("magnitude" in line and " 0.9 " in line for line in lines[1:])
    assert main(["list", "--results", str(results), "--kind", "dense", "--dataset", "digits"]) == 0
    assert len(capsys.readouterr().out.splitlines()) == 2


def test_audit_verdict_survives_redirecting_stdout(tree, capsys):
    results, _ = tree
    (runs(results, "prune")[0] / "notes.txt").write_text("hand-written")
    assert main(["audit", str(results)]) == 1
    captured = capsys.readouterr()
    assert captured.err == ""
    assert captured.out.splitlines()[-1].startswith(f"audit {results}: runs 9, tables 1, figures 1;")
    assert captured.out.splitlines()[-1].endswith(" warnings") and " 1 errors" in captured.out.splitlines()[-1]


def test_lineage_of_a_file_that_does_not_exist_says_so(tree, capsys):
    results, _ = tree
    assert main(["lineage", str(results / "figures/tiny/nope.png")]) == 2
    assert capsys.readouterr().err.startswith(f"prunelab: {results}/figures/tiny/nope.png: no such file")
    assert main(["lineage", "0123abcd", "--results", str(results)]) == 2
    assert "no run under" in capsys.readouterr().err  # a hash prefix is still looked up among the runs


# -- plan, list and gc against the tree ------------------------------------------------------------------------
def plan_lines(capsys, config, results, *args):
    assert main(["plan", str(config), "--results", str(results), *args]) == 0
    header, *lines = capsys.readouterr().out.splitlines()
    assert header.split()[:3] == ["kind", "run", "status"]
    return {line.split()[1]: line for line in lines}


def test_plan_says_done_stale_or_missing_per_run(tree, capsys):
    results, config = tree
    lines = plan_lines(capsys, config, results)
    assert len(lines) == 9 and all(line.split()[2] == "done" for line in lines.values())
    truncated, removed, edited = runs(results, "prune")[0], runs(results, "branch")[0], runs(results, "branch")[1]
    (truncated / "mask.pt").unlink()
    shutil.rmtree(removed)
    metrics = json.loads((edited / "metrics.json").read_text())
    metrics["final"]["test_acc"] = 100.0
    (edited / "metrics.json").write_text(json.dumps(metrics))
    status = {run_hash: line.split()[2] for run_hash, line in plan_lines(capsys, config, results).items()}
    assert status.pop(truncated.name) == "stale" and status.pop(edited.name) == "stale"
    assert status.pop(removed.name) == "missing"
    assert set(status.values()) == {"done"}


def test_runs_differing_only_in_scope_print_differently(tree, capsys):
    results, config = tree
    edited = yaml.safe_load(config.read_text())
    edited["pruning"]["layerwise"] = {"method": "magnitude", "scope": "layerwise"}
    edited["experiments"]["oneshot"]["pruning"].append("layerwise")
    edited_path = config.with_name("scopes.yaml")
    edited_path.write_text(yaml.safe_dump(edited))
    what = [line.split(None, 3)[3] for line in plan_lines(capsys, edited_path, results).values()]
    assert len(what) == 13 and len(set(what)) == len(what)
    dense = runs(results, "dense")[0].name
    assert f"magnitude to sparsity 0.5 (layerwise), level 1 pruned from dense/{dense}, seed 0" in what
    assert any(w.startswith("finetune after magnitude (layerwise) at sparsity 0.5") for w in what)

    prune = runs(results, "prune")[0]  # the same run with layer-wise scope, as `list` reads it
    twin = prune.parent / ("f" * 16)
    shutil.copytree(prune, twin)
    spec = json.loads((twin / "spec.json").read_text())
    spec["scope"] = "layerwise"
    (twin / "spec.json").write_text(json.dumps(spec))
    assert main(["list", "--results", str(results), "--kind", "prune"]) == 0
    rows = [line.split() for line in capsys.readouterr().out.splitlines()[1:]]
    pair = [row for row in rows if row[1] in (prune.name, twin.name)]
    assert sorted(row[6] for row in pair) == ["global", "layerwise"]


def test_imp_level_and_one_shot_prune_to_the_same_sparsity_print_differently(tree, capsys):
    """IMP's level 2 at 0.9 and a one-shot prune to 0.9 share method, scope, sparsity and seed: the level and
    the run each was pruned from tell them apart in `plan`, `list` and `show`."""
    results, config = tree
    edited = yaml.safe_load(config.read_text())
    edited["experiments"]["imp"] = {
        "dense": ["lenet"],
        "iterative": {"pruning": "magnitude", "sparsities": [0.5, 0.9], "branch": "finetune"},
    }
    edited_path = config.with_name("imp.yaml")
    edited_path.write_text(yaml.safe_dump(edited))
    plan = build_plan(load_config(edited_path), str(edited_path))
    lines = plan_lines(capsys, edited_path, results, "--kind", "prune")
    at_09 = {h: line.split(None, 3)[3] for h, line in lines.items() if "magnitude to sparsity 0.9 " in line}
    assert len(at_09) == 2 and len(set(at_09.values())) == 2
    dense = runs(results, "dense")[0].name
    level_1 = next(
        h
        for h, spec in plan.specs.items()
        if spec["kind"] == "branch"
        and plan.specs[spec["parents"]["prune"].split("/")[1]]["sparsity"] == 0.5
        and plan.specs[spec["parents"]["prune"].split("/")[1]]["method"] == "magnitude"
    )
    assert sorted(at_09.values()) == [
        f"magnitude to sparsity 0.9 (global), level 1 pruned from dense/{dense}, seed 0",
        f"magnitude to sparsity 0.9 (global), level 2 pruned from branch/{level_1}, seed 0",
    ]

    # the level-2 prune in the tree, as `list` and `show` read it: the one-shot prune re-pointed at the branch
    one_shot = next(
        run
        for run in runs(results, "prune")
        if json.loads((run / "spec.json").read_text())["sparsity"] == 0.9
        and json.loads((run / "spec.json").read_text())["method"] == "magnitude"
    )
    twin = one_shot.parent / ("f" * 16)
    shutil.copytree(one_shot, twin)
    spec = json.loads((twin / "spec.json").read_text())
    spec["parents"] = {"source": f"branch/{level_1}"}
    (twin / "spec.json").write_text(json.dumps(spec))
    assert (
        main(["list", "--results", str(results), "--kind", "prune", "--method", "magnitude", "--sparsity", "0.9"]) == 0
    )
    header, *rows = [line.split() for line in capsys.readouterr().out.splitlines()]
    assert header[7:9] == ["level", "parent"]
    assert sorted((row[1], row[7], row[8]) for row in rows) == sorted(
        [(one_shot.name, "1", f"dense/{dense}"), (twin.name, "2", f"branch/{level_1}")]
    )
    main(["show", twin.name, "--results", str(results)])
    assert capsys.readouterr().out.splitlines()[0] == (
        f"prune {twin.name}  magnitude to sparsity 0.9 (global), level 2 pruned from branch/{level_1}, seed 0"
    )


def test_provenance_summary_says_cpu_runs_are_deterministic(tree):
    """CPU kernels are deterministic whatever torch's flag (which the workflow leaves off on a CPU) says."""
    from prunelab.records.tree import deterministic

    results, _ = tree
    summary = pd.read_csv(results / "report" / "tiny" / "runs_provenance.csv", dtype=str, keep_default_na=False)
    assert dict(zip(summary["kind"], summary["deterministic"])) == {
        "dense": "True",
        "prune": "True",
        "branch": "True",
        "table": "n/a",
        "figure": "n/a",
    }
    record = json.loads((runs(results, "dense")[0] / "provenance.json").read_text())
    assert record["device"] == "cpu" and record["environment"]["deterministic_algorithms"] is False
    gpu = {**record, "device": "cuda:0", "hardware": {"gpu": "NVIDIA H100"}}
    for flag, benchmark, expected in ((True, False, True), (False, False, False), (True, True, False)):
        gpu["environment"] = {**record["environment"], "deterministic_algorithms": flag, "cudnn_benchmark": benchmark}
        assert deterministic(gpu) is expected


def test_gc_lists_unplanned_runs_and_keeps_those_a_table_depends_on(tree, capsys):
    results, config = tree
    edited_path, old, new = edit_random_seed(config)
    gone = {str(results / "runs" / s["kind"] / h) for h, s in old.specs.items() if h not in new.specs}
    before = sorted(p for p in (results / "runs").rglob("*"))

    assert main(["gc", str(edited_path), "--results", str(results), "--delete"]) == 0
    *lines, summary = capsys.readouterr().out.splitlines()
    assert {line.split()[1] for line in lines} == gone and all(line.startswith("keep ") for line in lines)
    assert all("tables/tiny/oneshot.provenance.json" in line for line in lines)
    assert "4 run(s) that no given config plans; 0 deleted, 4 kept" in summary
    assert sorted(p for p in (results / "runs").rglob("*")) == before

    for area in ("tables", "figures", "report"):  # once nothing depends on them, they may go
        shutil.rmtree(results / area, ignore_errors=True)
    assert main(["gc", str(edited_path), "--results", str(results)]) == 0
    *lines, summary = capsys.readouterr().out.splitlines()
    assert {line.split()[1] for line in lines} == gone and all(line.startswith("delete ") for line in lines)
    assert summary.endswith(
        "4 to delete, 0 kept because a table, figure or report depends on them; dry run, --delete removes them"
    )
    assert sorted(p for p in (results / "runs").rglob("*")) == before
    assert main(["gc", str(edited_path), str(config), "--results", str(results)]) == 0  # both configs: nothing
    assert capsys.readouterr().out.startswith(f"gc {results}: 0 run(s)")
    assert main(["gc", str(edited_path), "--results", str(results), "--delete"]) == 0
    capsys.readouterr()
    assert not any(Path(path).exists() for path in gone)
    assert {
        f"{run.parent.name}/{run.name}" for kind in ("dense", "prune", "branch") for run in runs(results, kind)
    } == {f"{s['kind']}/{h}" for h, s in new.specs.items() if h in old.specs}
