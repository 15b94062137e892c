"""The branch-type registry: one module per type, discovered; planning reads its rules; Scratch-E on a net
without conv layers is the reinit run (issue #15 item 8), on a conv net its own."""

import copy
from dataclasses import fields

import pytest
import torch
import yaml
from conftest import ROOT

from prunelab.branch_types import BranchType, branch_types
from prunelab.branch_types.starts import branch_start
from prunelab.errors import ConfigError
from prunelab.models import build_model
from prunelab.plan.build import build_plan
from prunelab.pruning.multistep import run_method

PACKAGE = ROOT / "src" / "prunelab" / "branch_types" / "catalog"
BRANCHES = yaml.safe_load((ROOT / "tests" / "configs" / "branches.yaml").read_text())
PLANNING = ("train_defaults", "takes_rewind", "fixed_rewind", "from_snapshot")  # what shapes a type's spec


def test_every_type_module_is_discovered_under_its_own_name():
    modules = {path.stem for path in PACKAGE.glob("*.py")} - {"__init__"}
    assert set(branch_types()) == modules
    assert all(isinstance(kind, BranchType) and kind.doc and kind.label for kind in branch_types().values())


@pytest.mark.parametrize("name", [n for n, kind in branch_types().items() if kind.without_conv])
def test_a_type_that_shares_a_run_without_convs_plans_exactly_like_that_type(name):
    """Its spec is written with the other type's name, so every other field must come out the same."""
    kind = branch_types()[name]
    other = branch_types()[kind.without_conv]
    assert [getattr(kind, f) for f in PLANNING] == [getattr(other, f) for f in PLANNING]
    assert {f.name for f in fields(BranchType)} >= set(PLANNING)


def _config(model: dict) -> dict:
    config = copy.deepcopy(BRANCHES)
    config["dense"]["lenet"]["model"] = model
    del config["experiments"]["imp"], config["figures"]
    return config


def _runs(plan) -> dict[str, str]:
    return {row["branch_type"]: row["run"] for row in plan.experiments["oneshot"] if row["stage"] == "branch"}


def _validated(config: dict) -> dict:
    from prunelab.config.validation import validate_config

    return validate_config(config)


def test_scratch_e_without_convs_is_the_reinit_run_and_keeps_its_row():
    plan = build_plan(_validated(_config({"name": "lenet_300_100"})))
    runs = _runs(plan)
    assert runs["scratch_e"] == runs["reinit"] and plan.specs[runs["scratch_e"]]["type"] == "reinit"
    assert len(set(runs.values())) == len(runs) - 1  # every other type keeps a run of its own
    assert len(plan.hashes("branch")) == len(runs) - 1


def test_scratch_e_on_a_conv_net_keeps_its_own_run():
    runs = _runs(build_plan(_validated(_config({"name": "lenet5"}))))
    assert runs["scratch_e"] != runs["reinit"] and len(set(runs.values())) == len(runs)


@pytest.mark.parametrize("model,shared", [({"name": "lenet_300_100"}, True), ({"name": "lenet5"}, False)])
def test_the_shared_run_is_the_same_computation_only_without_convs(digits28, model, shared):
    """The merge is sound: Scratch-E's start equals reinit's bit for bit on a conv-less net, and differs
    (sparse-scaled convs) on a conv net."""
    dense = build_model(model, digits28.input_shape, 10, seed=0)
    mask = run_method(dense, "magnitude", {}, 0.8).mask
    train = {"epochs": 1, "batch_size": 128, "lr": 0.05, "schedule": {"name": "constant"}}

    def start(kind):
        spec = {"type": kind, "rewind": None, "train": train, "seed": {"init": 1_000_003, "data": 0}}
        return branch_start(spec, {"model": model}, digits28, mask, {}, None)

    scratch, reinit = start("scratch_e"), start("reinit")
    same = all(torch.equal(scratch.state[k], reinit.state[k]) for k in reinit.state)
    assert same == shared
    assert (scratch.train, scratch.start_iteration, scratch.notes) == (reinit.train, 0, {})


@pytest.mark.parametrize(
    "branch,expected",
    [
        ({"type": "finetune", "rewind": "1ep"}, "key branches.b.rewind: branch type 'finetune' does not rewind"),
        ({"type": "lottery", "rewind": "1ep"}, "key branches.b.rewind: branch type 'lottery' always rewinds to '0it'"),
        ({"type": "rewind_lr"}, "key branches.b.rewind: required for branch type 'rewind_lr'"),
        (
            {"type": "reinit", "optimizer_state": "rewind"},
            "key branches.b.optimizer_state: 'rewind' only applies to lottery/rewind_weights",
        ),
        ({"type": "retrain"}, "key branches.b.type: 'retrain' is not a branch type (known: finetune, lottery"),
    ],
)
def test_a_type_refuses_config_keys_it_does_not_take_in_one_line(branch, expected):
    config = _config({"name": "lenet_300_100"})
    config["branches"] = {"b": branch}
    config["experiments"]["oneshot"]["branches"] = ["b"]
    with pytest.raises(ConfigError) as error:
        build_plan(_validated(config), "cfg.yaml")
    assert str(error.value).startswith(f"cfg.yaml: {expected}")


def test_a_fixed_rewind_point_may_be_written_out():
    config = _config({"name": "lenet_300_100"})
    config["branches"] = {"b": {"type": "lottery", "rewind": "0 it"}}
    config["experiments"]["oneshot"]["branches"] = ["b"]
    specs = build_plan(_validated(config)).specs.values()
    assert [s["rewind"] for s in specs if s["kind"] == "branch"] == ["0it"]


def test_an_unused_branch_with_an_unknown_type_is_refused_too():
    config = _config({"name": "lenet_300_100"})
    config["branches"]["spare"] = {"type": "retrain"}
    with pytest.raises(ConfigError, match=r"^cfg.yaml: key branches.spare.type: 'retrain' is not a branch type"):
        build_plan(_validated(config), "cfg.yaml")


def test_two_modules_declaring_one_name_are_refused(tmp_path, monkeypatch):
    from prunelab.discovery import declared

    package = tmp_path / "twice"
    package.mkdir()
    (package / "__init__.py").write_text("")
    for module in ("a", "b"):
        (package / f"{module}.py").write_text("from prunelab.branch_types.catalog.finetune import BRANCH_TYPE\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(ValueError, match=r"BranchType 'finetune' is declared twice: in twice.a and in twice.b"):
        declared("twice", BranchType, "BRANCH_TYPE")
