"""SNIP masks pinned to the authors' readings, without their code (issue #24 item 5).

The digests below are sha256 of the keep-masks (bool bytes, prunable tensors in ``named_parameters()`` order,
each flattened row-major) that Synaptic-Flow's SNIP (ganguli-lab/Synaptic-Flow @ 9dfa57aa4012,
``Pruners/pruners.py:SNIP`` through its ``prune.py:prune_loop``) chose on the tiny float64 nets of :func:`case`,
computed once with ``python scripts/crosscheck/snip.py --authors <Synaptic-Flow> --pin`` (which builds the
nets from this module). prunelab's SNIP must reproduce them; a scorer that takes abs() per batch, drops the
normalisation's order or scores BatchNorm on batch statistics gives another digest (checked below, so the
pins can fail).
"""

from __future__ import annotations

import hashlib
import math

import pytest
import torch

from prunelab.data.tensors import load_dataset
from prunelab.models import build_model
from prunelab.pruning.multistep import run_method, scoring_batches
from prunelab.pruning.select import select
from prunelab.pruning.snip import connection_sensitivity
from prunelab.training.masks import prunable_parameters

CASES = ("mlp", "resnet")
SPARSITIES = (0.5, 0.9)

# Synaptic-Flow keeps this many more than prunelab's ⌊s·N + ½⌋ rule (it prunes ⌊s·N⌋)
COUNT_GAP = {("resnet", 0.9): 1}
# case, sparsity -> (kept entries, sha256 of Synaptic-Flow's keep-mask)
PINNED = {
    ("mlp", 0.5): (1184, "53ce4892177e90d59ee80bf5ff0184245c651b4d23b1c12cc3788238577540b0"),
    ("mlp", 0.9): (237, "71d794ed96f11adea48c0aef62feaeef8997d93f84e74d80951014d3ed26697b"),
    ("resnet", 0.5): (2137, "10768be181069c4092b46244ca3fd64ec8df2035e0c67cfacc0ff407ede22b77"),
    ("resnet", 0.9): (428, "95b7812cff4bf3ce4a6dd29d40f2a19e332e44cbea62e01f2e0bafb8ff8be3ce"),
}


def digest(mask: dict[str, torch.Tensor]) -> str:
    return hashlib.sha256(torch.cat([m.flatten().cpu() for m in mask.values()]).numpy().tobytes()).hexdigest()


def case(name: str):
    """A float64 net at initialisation and two equal scoring batches of sklearn's digits (8×8, offline): an MLP
    64-32-10, or a ResNet-20 of width 2 whose BatchNorm layers make the scoring mode matter."""
    data = load_dataset({"name": "digits", "size": 8, "channels": 1, "validation": 0})
    spec = {"mlp": {"name": "mlp", "widths": [32]}, "resnet": {"name": "resnet20", "width": 2}}[name]
    model = build_model(spec, data.input_shape, data.num_classes, seed=0).double().eval()
    batches = [(x.double(), y) for x, y in scoring_batches(data, 64, 32, seed=0)]
    return model, batches


@pytest.mark.parametrize("name,sparsity", [(c, s) for c in CASES for s in SPARSITIES])
def test_snip_reproduces_synaptic_flows_mask(name, sparsity):
    """At Synaptic-Flow's count the very same entries; its count floors s·N where prunelab rounds (§1.3),
    one entry apart when the fraction of s·N is at least ½ (ResNet at 0.9: 3846.6)."""
    model, batches = case(name)
    kept, pinned = PINNED[name, sparsity]
    n = sum(p.numel() for p in prunable_parameters(model).values())
    assert kept == n - math.floor((1.0 - (1.0 - sparsity)) * n)
    mask = run_method(model, "snip", {}, (n - kept) / n, batches=batches, at_init=True).mask
    assert mask.kept == kept
    assert digest(dict(mask.items())) == pinned
    default = run_method(model, "snip", {}, sparsity, batches=batches, at_init=True).mask
    assert kept - default.kept == COUNT_GAP.get((name, sparsity), 0)


def test_the_pins_tell_batch_statistics_apart():
    """Scoring with BatchNorm on batch statistics (prunelab's former default at init) moves the mask."""
    model, batches = case("resnet")
    mask = run_method(model, "snip", {"batchnorm": "batch"}, 0.5, batches=batches, at_init=True).mask
    assert digest(dict(mask.items())) != PINNED["resnet", 0.5][1]


def test_the_pins_tell_abs_per_batch_apart():
    """Summing |g_b ⊙ θ| over the batches (instead of |Σ_b g_b ⊙ θ|) moves the mask, so the pins can fail."""
    model, batches = case("mlp")
    params = prunable_parameters(model)
    per_batch = {n: torch.zeros_like(p) for n, p in params.items()}
    for batch in batches:
        for n, s in connection_sensitivity(model, params, [batch]).items():
            per_batch[n] += s
    mask = select(per_batch, 0.9)
    assert digest(dict(mask.items())) != PINNED["mlp", 0.9][1]
