"""GraSP against numbers the authors' own ``GraSP()`` produced (alecwangcq/GraSP @ f17d87a, pruner/GraSP.py).

Pinned once by scripts/crosscheck/grasp.py's "same inputs" set-up on the toy nets below: their function fed
prunelab's class-balanced sample (5 per class, seed 0) and its Xavier re-initialisation drawing from the same
generator, ratio 0.5, T = 200. Their mask keeps ``score ≤ the int(r·N)-th largest``, so it removes
int(0.5·106) − 1 = 52 of the 106 weights; prunelab removes ⌊s·N + ½⌋ = 53 (docs/methods.md §1.3). The hash is
sha256 over the keep-masks' bytes (uint8, tensors in parameter order).
"""

import hashlib

import pytest
import torch
from toy import context, mlp, toy_data

from prunelab.pruning.grasp import score
from prunelab.pruning.multistep import run_method

THEIRS = {  # activation: (removed, sha256 of their keep-masks, removed per layer)
    "relu": (52, "cd8c5aa1dee9aa0f2b0a2b412189f686405eb04118e4386f0c90df959de9b699", [17, 27, 8]),
    "tanh": (52, "062d774df5e6bb010e74628b020617a84951f9bbef66cd4788f90857d1410249", [23, 24, 5]),
}
HPARAMS = {"temperature": 200.0, "samples_per_class": 5, "reinit": True}


def digest(masks) -> str:
    return hashlib.sha256(b"".join(m.flatten().to(torch.uint8).numpy().tobytes() for m in masks)).hexdigest()


@pytest.mark.parametrize("act", sorted(THEIRS))
def test_grasp_scores_remove_the_authors_entries(act):
    removed, sha, per_layer = THEIRS[act]
    model = mlp(widths=(8, 6), inputs=5, classes=3, act=act, seed=0)
    data = toy_data(inputs=5, classes=3, n_train=60)
    scores = score(context(model, data=data, seed=0, at_init=True), **HPARAMS)
    flat = torch.cat([s.flatten() for s in scores.values()])
    keep = torch.ones_like(flat, dtype=torch.bool)
    keep[torch.sort(flat, stable=True).indices[:removed]] = False  # their count
    masks = list(keep.split([s.numel() for s in scores.values()]))
    assert [int((~m).sum()) for m in masks] == per_layer
    assert digest(masks) == sha
    ours = run_method(model, "grasp", HPARAMS, 0.5, data=data, seed=0, at_init=True).mask
    extra = torch.cat([m.flatten() for m in ours.values()]) != keep
    assert int(extra.sum()) == 1 and not bool(torch.cat([m.flatten() for m in ours.values()])[keep.logical_not()].any())
