"""SNIP masks pinned to the authors' readings, without their code (issue #24 item 5).

The digests below are sha256 of the keep-masks (bool bytes, prunable tensors in ``named_parameters()`` order,
each flattened row-major) that Synaptic-Flow's SNIP (ganguli-lab/Synaptic-Flow @ 9dfa57aa4012,
``Pruners/pruners.py:SNIP`` through its ``prune.py:prune_loop``) chose on the tiny float64 nets of :func:`case`,
computed once with ``python scripts/crosscheck/snip.py --authors <Synaptic-Flow> --pin`` (which builds the
nets from this module). prunelab's SNIP must reproduce them; a scorer that takes abs() per batch, drops the
normalisation's order or scores in another mode gives another digest (checked below, so the pins can fail).
"""

from __future__ import annotations

import hashlib

import pytest
import torch

from prunelab.data import load_dataset
from prunelab.masks import prunable_parameters
from prunelab.models import build_model
from prunelab.pruning.schedule import run_method, scoring_batches
from prunelab.pruning.select import select
from prunelab.pruning.snip import connection_sensitivity

CASES = ("mlp",)
SPARSITIES = (0.5, 0.9)

# case, sparsity -> (kept entries, sha256 of Synaptic-Flow's keep-mask)
PINNED = {
    ('mlp', 0.5): (1184, '53ce4892177e90d59ee80bf5ff0184245c651b4d23b1c12cc3788238577540b0'),
    ('mlp', 0.9): (237, '71d794ed96f11adea48c0aef62feaeef8997d93f84e74d80951014d3ed26697b'),
}


def digest(mask: dict[str, torch.Tensor]) -> str:
    return hashlib.sha256(torch.cat([m.flatten().cpu() for m in mask.values()]).numpy().tobytes()).hexdigest()


def case(name: str):
    """A float64 net at initialisation and two equal scoring batches of sklearn's digits (8×8, offline)."""
    data = load_dataset({"name": "digits", "size": 8, "channels": 1, "validation": 0})
    spec = {"mlp": {"name": "mlp", "widths": [32]}}[name]
    model = build_model(spec, data.input_shape, data.num_classes, seed=0).double().eval()
    batches = [(x.double(), y) for x, y in scoring_batches(data, 64, 32, seed=0)]
    return model, batches


@pytest.mark.parametrize("name,sparsity", [(c, s) for c in CASES for s in SPARSITIES])
def test_snip_reproduces_synaptic_flows_mask(name, sparsity):
    model, batches = case(name)
    mask = run_method(model, "snip", {}, sparsity, batches=batches, at_init=True).mask
    kept, pinned = PINNED[name, sparsity]
    assert mask.kept == kept
    assert digest(dict(mask.items())) == pinned


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
