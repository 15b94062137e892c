"""Typed run specs: their JSON form is the hashed spec key for key, and a malformed spec is one line."""

import json

import pytest
from golden_hashes import CONFIGS

from prunelab.config.validation import load_config
from prunelab.errors import ConfigError
from prunelab.plan.build import build_plan
from prunelab.records.run_specs import BranchSpec, DenseSpec, PruneSpec, Seeds, parse

PLAN = build_plan(load_config(CONFIGS["demo"]))


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_every_planned_spec_round_trips_to_the_json_it_is_hashed_from(name):
    plan = PLAN if name == "demo" else build_plan(load_config(CONFIGS[name]))
    for run_hash, data in plan.specs.items():
        typed = parse(json.loads(json.dumps(data)))
        assert typed.to_dict() == data and typed.hash == run_hash


def test_each_kind_parses_to_its_type_with_attributes():
    by_kind = {}
    for data in PLAN.specs.values():
        by_kind.setdefault(data["kind"], parse(data))
    dense, prune, branch = by_kind["dense"], by_kind["prune"], by_kind["branch"]
    assert isinstance(dense, DenseSpec) and isinstance(prune, PruneSpec) and isinstance(branch, BranchSpec)
    assert isinstance(dense.seed, Seeds) and dense.links == {}
    assert list(prune.links) == ["source"] and prune.links["source"].split("/")[1] in PLAN.specs
    assert set(branch.links) == {"dense", "prune"} and branch.links["prune"].startswith("prune/")
    assert branch.parent_dirs("r")["dense"].as_posix() == f"r/runs/{branch.links['dense']}"
    assert prune.seeds["prune"] == prune.seed


def test_checkpoint_is_left_out_while_absent_so_old_hashes_stay():
    dense = next(parse(d) for d in PLAN.specs.values() if d["kind"] == "dense")
    assert dense.checkpoint is None and "checkpoint" not in dense.to_dict()


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda d: d.pop("train"), "missing key 'train' in a dense spec"),
        (lambda d: d.update(extra=1), "unknown key 'extra' in a dense spec"),
        (lambda d: d.update(seed={"init": 1}), r"spec\.seed: expected keys init and data"),
    ],
)
def test_a_malformed_spec_is_one_line_naming_the_key(change, message):
    data = json.loads(json.dumps(next(d for d in PLAN.specs.values() if d["kind"] == "dense")))
    change(data)
    with pytest.raises(ConfigError, match=message):
        parse(data)


def test_a_spec_of_another_kind_is_refused_by_the_job_type():
    prune = next(d for d in PLAN.specs.values() if d["kind"] == "prune")
    with pytest.raises(ConfigError, match="spec kind 'prune' given where a dense spec is needed"):
        DenseSpec.from_dict(prune)
    with pytest.raises(ConfigError, match=r"spec kind 'other' is unknown \(allowed: dense, prune, branch\)"):
        parse({"kind": "other"})
