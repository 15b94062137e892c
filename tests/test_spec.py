"""Run-spec hashing: canonical JSON, golden hashes, late fields, and the plan's hashes of the demo config."""

import pytest

from prunelab.errors import ConfigError
from prunelab.records.hashing import canonical_json, spec_hash

DENSE = {
    "kind": "dense",
    "dataset": {"name": "digits", "size": 28},
    "model": {"name": "lenet_300_100"},
    "train": {"epochs": 8, "lr": 0.05, "weight_decay": 1e-4, "save_at": ["0it"]},
    "seed": {"init": 1, "data": 1},
}


def test_canonical_form_sorts_keys_and_writes_integral_floats_as_ints():
    assert canonical_json({"b": 1.0, "a": [0.1, 2.0, True, None]}) == '{"a":[0.1,2,true,null],"b":1}'


def test_key_order_and_int_float_spelling_do_not_change_the_hash():
    reordered = {k: DENSE[k] for k in reversed(list(DENSE))}
    assert spec_hash(reordered) == spec_hash(DENSE)
    respelled = {**DENSE, "train": {**DENSE["train"], "epochs": 8.0}}
    assert spec_hash(respelled) == spec_hash(DENSE)


def test_any_decisive_change_changes_the_hash():
    changed = {**DENSE, "train": {**DENSE["train"], "lr": 0.050000001}}
    assert spec_hash(changed) != spec_hash(DENSE)


def test_golden_hashes_never_drift():
    prune = {
        "kind": "prune",
        "parents": {"source": f"dense/{spec_hash(DENSE)}"},
        "at": "final",
        "method": "magnitude",
        "hparams": {},
        "sparsity": 0.9,
        "scope": "global",
        "exclude": [],
        "steps": 1,
        "step_schedule": "exponential",
        "scoring": None,
        "seed": 0,
    }
    branch = {
        "kind": "branch",
        "parents": {"dense": f"dense/{spec_hash(DENSE)}", "prune": f"prune/{spec_hash(prune)}"},
        "type": "finetune",
        "rewind": None,
        "train": {"epochs": 4, "lr": 0.01},
        "optimizer_state": "fresh",
        "seed": {"init": 1000004, "data": 1},
    }
    assert len(spec_hash(DENSE)) == 16
    assert spec_hash(DENSE) == "eb75d9c3be8f78a6"
    assert spec_hash(prune) == "3e940785a346f266"
    assert spec_hash(branch) == "4721c741bb9fe53f"


def test_late_fields_at_their_default_keep_old_hashes():
    with_default = {**DENSE, "train": {**DENSE["train"], "precision": "fp32", "channels_last": False}}
    assert spec_hash(with_default) == spec_hash(DENSE)
    assert spec_hash({**DENSE, "train": {**DENSE["train"], "precision": "bf16"}}) != spec_hash(DENSE)


def test_non_finite_values_are_rejected_with_their_key():
    with pytest.raises(ConfigError, match=r"spec\.train\.lr"):
        spec_hash({**DENSE, "train": {**DENSE["train"], "lr": float("nan")}})
