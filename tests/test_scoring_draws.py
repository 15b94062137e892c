"""Which training examples each pruning step scores on (docs/methods.md §1.7–§1.8): under ``per_step: fresh``
(the default of multi-step runs) step t draws its own subset from (seed, t), with step 1 drawing the subset a
one-step run always drew; under ``fixed`` every step rescores step 1's subset. One-step specs leave the key out."""

import json

import pytest
import torch
from toy import mlp, toy_data

from prunelab.config.validation import validate_config
from prunelab.errors import ConfigError
from prunelab.jobs.kinds import run_dense, run_prune
from prunelab.jobs.runtime import Runtime
from prunelab.plan.build import build_plan
from prunelab.pruning.base import resolve_hparams
from prunelab.pruning.multistep import ScoringDraws, run_method, scoring_batches, scoring_seed
from prunelab.records.run_specs import PruneSpec


def _equal(a, b) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def _same(a, b) -> bool:
    return len(a) == len(b) and all(torch.equal(x, u) and torch.equal(y, v) for (x, y), (u, v) in zip(a, b))


def _draws(per_step, seed=3, data=None):
    return ScoringDraws(
        data if data is not None else toy_data(n_train=200), examples=40, batch_size=16, seed=seed, per_step=per_step
    )


def test_step_one_draws_the_one_subset_of_before_and_later_steps_differ_only_when_fresh():
    data = toy_data(n_train=200)
    before = scoring_batches(data, 40, 16, 3)
    fresh, fixed = _draws("fresh", data=data), _draws("fixed", data=data)
    assert _same(fresh(1), before) and _same(fixed(1), before)
    for step in (2, 3, 14):
        assert _same(fixed(step), before)
        assert not _same(fresh(step), before)
        assert [len(y) for _, y in fresh(step)] == [16, 16, 8]  # same size and batching as step 1
    assert not _same(fresh(2), fresh(3))


def test_the_draw_is_a_function_of_seed_and_step_only():
    data = toy_data(n_train=200)
    forward = [_draws("fresh", data=data)(step) for step in (1, 2, 3)]
    torch.manual_seed(123)  # the global stream plays no part
    backward = [_draws("fresh", data=data)(step) for step in (3, 2, 1)][::-1]
    assert all(_same(a, b) for a, b in zip(forward, backward))
    assert _same(_draws("fresh", seed=4, data=data)(2), scoring_batches(data, 40, 16, scoring_seed(4, 2)))
    assert not _same(_draws("fresh", seed=4, data=data)(2), forward[1])
    assert scoring_seed(7, 1) == 7 and scoring_seed(7, 2) == scoring_seed(7, 2) != scoring_seed(8, 2)
    assert scoring_seed(0, 2) != scoring_seed(1, 1)  # replicate 1 does not reuse replicate 0's step 2


def test_a_one_step_run_prunes_as_before_and_a_multi_step_run_scores_each_step_on_its_draw():
    torch.manual_seed(0)
    data = toy_data(inputs=5, classes=3, n_train=400)
    model, hp = mlp((12,)), resolve_hparams("qm", {})
    before = scoring_batches(data, 50, 25, 1)
    one = run_method(model, "qm", hp, 0.6, batches=ScoringDraws(data, 50, 25, 1, "fresh")).mask
    assert _equal(one, run_method(model, "qm", hp, 0.6, batches=before).mask)

    seen = []

    def recording(step):
        seen.append(step)
        return ScoringDraws(data, 50, 25, 1, "fresh")(step)

    fresh = run_method(model, "qm", hp, 0.9, steps=5, batches=recording).mask
    assert seen == [1, 2, 3, 4, 5]
    fixed = run_method(model, "qm", hp, 0.9, steps=5, batches=ScoringDraws(data, 50, 25, 1, "fixed")).mask
    assert _equal(fixed, run_method(model, "qm", hp, 0.9, steps=5, batches=before).mask)
    assert not _equal(fresh, fixed) and fresh.kept == fixed.kept


def _config(**scoring):
    lm = {"method": "lm", "scoring": {"examples": 32, "batch_size": 16, "seed": 2, **scoring}}
    return {
        "dense": {
            "mlp": {
                "dataset": {"name": "digits", "size": 8, "channels": 1, "validation": 100},
                "model": {"name": "mlp", "widths": [16]},
                "train": {"epochs": 1, "batch_size": 128, "lr": 0.05},
                "seeds": [3],
            }
        },
        "pruning": {"one": lm, "three": {**lm, "steps": 3}, "mag": {"method": "magnitude", "steps": 3}},
        "experiments": {"e": {"dense": ["mlp"], "pruning": ["one", "three", "mag"], "sparsities": [0.8]}},
    }


def _prune_specs(config) -> dict:
    plan = build_plan(validate_config(config))
    return {r["pruning"]: plan.specs[r["run"]] for r in plan.experiments["e"] if r["stage"] == "pruned"}


def test_only_multi_step_specs_carry_per_step_so_one_step_hashes_stay():
    default, fixed = _prune_specs(_config()), _prune_specs(_config(per_step="fixed"))
    assert default["one"]["scoring"] == {"examples": 32, "batch_size": 16, "seed": 5}  # the keys it always had
    assert PruneSpec.from_dict(default["one"]).hash == PruneSpec.from_dict(fixed["one"]).hash
    assert default["mag"]["scoring"] is None and default["mag"] == fixed["mag"]
    assert default["three"]["scoring"]["per_step"] == "fresh" and fixed["three"]["scoring"]["per_step"] == "fixed"
    assert PruneSpec.from_dict(default["three"]).hash != PruneSpec.from_dict(fixed["three"]).hash
    with pytest.raises(Exception, match="per_step"):
        validate_config(_config(per_step="sometimes"))


def test_a_spec_with_an_unknown_per_step_is_refused_naming_the_key():
    with pytest.raises(ConfigError, match=r"spec\.scoring\.per_step: 'sometimes'"):
        ScoringDraws.from_spec(toy_data(), {"examples": 4, "batch_size": 2, "seed": 0, "per_step": "sometimes"})
    assert ScoringDraws.from_spec(toy_data(), {"examples": 4, "batch_size": 2, "seed": 0}).per_step == "fixed"


def test_the_prune_job_records_each_steps_scoring_seed(tmp_path):
    specs = _prune_specs(_config())
    plan = build_plan(validate_config(_config()))
    rt = Runtime(results=tmp_path, device="cpu", threads=1)
    for run_hash in plan.hashes("dense"):
        run_dense(plan.specs[run_hash], tmp_path / "runs" / "dense" / run_hash, rt, log=lambda m: None)
    spec = specs["three"]
    directory = tmp_path / "runs" / "prune" / PruneSpec.from_dict(spec).hash
    run_prune(spec, directory, rt, log=lambda m: None)
    steps = json.loads((directory / "metrics.json").read_text())["steps"]
    assert [s["scoring_seed"] for s in steps] == [5, scoring_seed(5, 2), scoring_seed(5, 3)]
