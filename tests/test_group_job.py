"""The seed-group job in-process: which path it takes, what it writes, what it reuses, what it refuses."""

import json

import pytest

from prunelab.errors import ConfigError, DivergenceError
from prunelab.jobs.grouped_run import run_dense_group
from prunelab.jobs.runtime import Runtime
from prunelab.models import build_model
from prunelab.plan.seed_groups import group_hash, seed_groups
from prunelab.records.hashing import spec_hash
from prunelab.training.stacked import slower_than_sequential

DENSE = {
    "kind": "dense",
    "dataset": {"name": "digits", "size": 8, "channels": 1, "validation": 100},
    "model": {"name": "lenet_300_100"},
    "train": {
        "epochs": 1,
        "batch_size": 256,
        "optimizer": "sgd",
        "lr": 0.05,
        "momentum": 0.9,
        "nesterov": False,
        "weight_decay": 1e-4,
        "warmup_epochs": 0,
        "schedule": {"name": "constant"},
        "save_at": ["0it"],
    },
}


def specs(seeds=(0, 1, 2), **changes):
    out = []
    for seed in seeds:
        spec = json.loads(json.dumps({**DENSE, "seed": {"init": seed, "data": seed}}))
        for key, value in changes.items():
            spec[key].update(value)
        out.append(spec)
    return out


def run(tmp_path, group_specs):
    group = tmp_path / "groups" / group_hash([spec_hash(s) for s in group_specs])
    run_dense_group(group_specs, group, Runtime(results=tmp_path, device="cpu", threads=1), log=lambda _: None)
    return json.loads((group / "group.json").read_text())


def test_seed_groups_are_the_dense_runs_differing_only_in_seed():
    a, b = specs((0, 1)), specs((0,), train={"lr": 0.1})
    plan = {spec_hash(s): s for s in a + b}
    plan["child"] = {"kind": "prune"}
    groups = seed_groups(plan)
    assert sorted(map(sorted, groups.values())) == sorted([sorted(spec_hash(s) for s in a), [spec_hash(b[0])]])
    assert all(g == group_hash(members) for g, members in groups.items())


def test_mlp_group_trains_in_lockstep_and_a_second_run_reuses_every_member(tmp_path):
    group_specs = specs()
    marker = run(tmp_path, group_specs)
    assert marker["mode"] == "vmap" and marker["k"] == 3 and marker["reason"] is None
    for spec in group_specs:
        record = json.loads((tmp_path / "runs" / "dense" / spec_hash(spec) / "provenance.json").read_text())
        assert record["grouped"]["mode"] == "vmap" and record["grouped"]["k"] == 3
    stamps = [(tmp_path / "runs" / "dense" / spec_hash(s) / "model.pt").stat().st_mtime_ns for s in group_specs]
    again = run(tmp_path, group_specs)
    assert again["mode"] == "reused" and again["k"] == 0 and not any(m["trained"] for m in again["members"])
    assert stamps == [(tmp_path / "runs" / "dense" / spec_hash(s) / "model.pt").stat().st_mtime_ns for s in group_specs]


@pytest.mark.parametrize(
    "changes,reason",
    [
        ({"model": {"name": "lenet5"}}, "convolutions on a CPU"),
        ({"train": {"optimizer": "adam", "lr": 1e-3}}, "optimizer 'adam'"),
    ],
    ids=["conv-on-cpu", "adam"],
)
def test_groups_that_would_not_gain_are_trained_one_by_one_as_ordinary_runs(tmp_path, changes, reason):
    group_specs = specs((0, 1), **changes)
    marker = run(tmp_path, group_specs)
    assert marker["mode"] == "separate" and reason in marker["reason"]
    for spec in group_specs:
        record = json.loads((tmp_path / "runs" / "dense" / spec_hash(spec) / "provenance.json").read_text())
        assert "grouped" not in record and record["hash"] == spec_hash(spec)


def test_slower_than_sequential_is_about_convolutions_on_cpu_only():
    import torch

    conv = build_model({"name": "lenet5"}, (1, 28, 28), 10)
    mlp = build_model({"name": "lenet_300_100"}, (1, 28, 28), 10)
    assert "convolutions" in slower_than_sequential(conv, torch.device("cpu"))
    assert slower_than_sequential(mlp, torch.device("cpu")) is None
    assert slower_than_sequential(conv, torch.device("cuda")) is None


def test_a_diverging_group_leaves_no_member_output_behind(tmp_path):
    group_specs = specs((0, 1), train={"lr": 1e30})
    every_member = "; ".join(f"run {spec_hash(s)}: loss is nan at epoch 1, iteration \\d+" for s in group_specs)
    with pytest.raises(DivergenceError, match=f"^{every_member}$"):
        run(tmp_path, group_specs)
    for spec in group_specs:
        assert not list((tmp_path / "runs" / "dense" / spec_hash(spec)).glob("*.json"))
        assert not list((tmp_path / "runs" / "dense" / spec_hash(spec)).glob("*.pt"))


def test_malformed_groups_are_refused_in_one_line(tmp_path):
    mixed = specs((0,)) + specs((1,), train={"lr": 0.1})
    with pytest.raises(ConfigError, match="may differ only in 'seed'"):
        run(tmp_path, mixed)
    with pytest.raises(ConfigError, match="not to the directory name"):
        run_dense_group(specs(), tmp_path / "groups" / "0123456789abcdef", Runtime(results=tmp_path, device="cpu"))


@pytest.mark.parametrize(
    "changes,mode",
    [({}, "vmap"), ({"train": {"optimizer": "adam", "lr": 1e-3}}, "separate")],
    ids=["lockstep", "one-by-one"],
)
def test_a_recorded_divergence_marks_one_member_and_the_others_finish(tmp_path, monkeypatch, changes, mode):
    """``on_divergence: record`` in both grouping modes: the poisoned member (seed 1) is written as diverged with
    its last good (initial) weights; the others equal a group that never had it."""
    import torch

    from prunelab.jobs import grouped_run as group_job
    from prunelab.jobs import kinds as jobs
    from prunelab.records.storage import load_tensors

    def poisoned(spec, shape, classes, seed):
        model = build_model(spec, shape, classes, seed=seed)
        if seed == 1:
            with torch.no_grad():
                next(model.parameters()).mul_(1e300)
        return model

    monkeypatch.setattr(group_job, "build_model", poisoned)
    monkeypatch.setattr(jobs, "build_model", poisoned)
    group_specs, clean_specs = specs((0, 1, 2), **changes), specs((0, 2), **changes)
    rt = Runtime(results=tmp_path / "poisoned", device="cpu", threads=1, on_divergence="record")
    marker_dir = tmp_path / "poisoned" / "groups" / group_hash([spec_hash(s) for s in group_specs])
    run_dense_group(group_specs, marker_dir, rt, log=lambda _: None)
    marker = json.loads((marker_dir / "group.json").read_text())
    assert marker["mode"] == mode and [m["trained"] for m in marker["members"]] == [True] * 3
    run(tmp_path / "clean", clean_specs)
    member = lambda root, spec: root / "runs" / "dense" / spec_hash(spec)  # noqa: E731
    bad = member(tmp_path / "poisoned", group_specs[1])
    metrics = json.loads((bad / "metrics.json").read_text())
    assert metrics["status"] == "diverged" and "loss is nan" in metrics["error"]
    initial = poisoned(DENSE["model"], (1, 8, 8), 10, 1).state_dict()
    assert all(torch.equal(v, initial[k]) for k, v in load_tensors(bad / "model.pt").items())
    for got, ref in ((group_specs[0], clean_specs[0]), (group_specs[2], clean_specs[1])):
        ok, clean = member(tmp_path / "poisoned", got), member(tmp_path / "clean", ref)
        assert json.loads((ok / "metrics.json").read_text())["status"] == "ok"
        assert (
            json.loads((ok / "metrics.json").read_text())["history"]
            == json.loads((clean / "metrics.json").read_text())["history"]
        )
        weights, reference = load_tensors(ok / "model.pt"), load_tensors(clean / "model.pt")
        assert all(torch.equal(v, reference[k]) for k, v in weights.items())
