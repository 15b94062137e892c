"""IMP's pruning step pinned to open_lth's, without its code (issue #24 item 5).

The pins are open_lth's masks (facebookresearch/open_lth @ 2ce732fe48ab, ``pruning/sparse_global.py:
Strategy.prune``, ``pruning_fraction`` 0.2) over four levels on the same weights of a tiny float64 net, with
nothing ignored (its ResNet-20 default) and with the output layer ignored (its LeNet/VGG default): per level
the kept count and the sha256 of the keep-mask (bool bytes over every conv/linear weight in
``named_parameters()`` order, ignored tensors all kept). ``python scripts/crosscheck/imp.py --authors
<open_lth> --pin`` printed them from this module's :func:`case`.

Two facts are pinned. (1) At open_lth's counts, prunelab's magnitude selector with nested masks picks the
very same entries (order, ties, nesting). (2) open_lth's counts are not prunelab's closed form
⌊(1 − 0.8^L)·N + ½⌋: each level prunes ⌈0.2·R⌉ + 1 entries (the threshold is the (⌈0.2·R⌉+1)-th
smallest and entries ``<=`` it go), with R counting the ignored tensors too; docs/methods.md §2.3 lists both.
"""

from __future__ import annotations

import hashlib
import math

import pytest
import torch

from prunelab.data.tensors import load_dataset
from prunelab.models import build_model
from prunelab.pruning.multistep import run_method
from prunelab.pruning.select import prune_count
from prunelab.training.masks import prunable_parameters

FRACTION = 0.2
LEVELS = 4
IGNORE = {"none": [], "output": ["net.3.weight"]}
# prunelab's default kept count minus open_lth's, per level (output ignored: its 320 weights count in R)
DIFFS = {"none": [1, 3, 3, 4], "output": [65, 118, 160, 193]}

# ignore case -> per level (kept entries over all conv/linear weights, sha256 of open_lth's keep-mask)
PINNED = {
    "none": [
        (1893, "bf4cd9a44a8ef18af378e5824b3824d4ead1d4a3f2f1db00a0e0326a0fea0df6"),
        (1513, "2916d4b45fd5f8906a95504aa304471c16f1513e874f3041267886d896c78077"),
        (1209, "139518adab2a1716573eed6efdcde6b408dcf1f2a0c1253317e1fce5e05f8ab2"),
        (966, "0db80d388a9574f4cd2571a7ed1896e8eb3a7ef5d419ab3f523ebd979e1ce1f4"),
    ],
    "output": [
        (1893, "53d5d4e726849d49ff39d153f0d37f7fe9b7992980d64bcfa17e0210ed995aca"),
        (1513, "414a39f6468ba3cd7b4a2fccc33a635de56126e8cec539677487ea2badcde46e"),
        (1209, "0264fd6da0350d50dbfe5794faad2fab3a499dd6a4edb2246e85a3a49700440a"),
        (966, "85ae49f200a05c3702bd28cb859ef1a62f44a103a9ca51b61093b240df24c146"),
    ],
}


def digest(mask: dict[str, torch.Tensor]) -> str:
    return hashlib.sha256(torch.cat([m.flatten().cpu() for m in mask.values()]).numpy().tobytes()).hexdigest()


def case():
    """A float64 MLP 64-32-10 for sklearn's digits (8×8) at its seeded initialisation."""
    data = load_dataset({"name": "digits", "size": 8, "channels": 1, "validation": 0})
    return build_model({"name": "mlp", "widths": [32]}, data.input_shape, data.num_classes, seed=0).double()


def _full(model, mask) -> dict[str, torch.Tensor]:
    kept = dict(mask.items())
    return {n: kept.get(n, torch.ones_like(p, dtype=torch.bool)) for n, p in prunable_parameters(model).items()}


@pytest.mark.parametrize("ignore", sorted(IGNORE))
def test_prunelab_picks_open_lths_entries_at_open_lths_counts(ignore):
    model = case()
    excluded = sum(p.numel() for n, p in prunable_parameters(model).items() if n in IGNORE[ignore])
    n = sum(p.numel() for p in prunable_parameters(model, IGNORE[ignore]).values())
    previous = None
    for kept, pinned in PINNED[ignore]:
        pruned = n - (kept - excluded)
        previous = run_method(model, "magnitude", {}, pruned / n, previous=previous, exclude=IGNORE[ignore]).mask
        assert previous.kept == kept - excluded
        assert digest(_full(model, previous)) == pinned


@pytest.mark.parametrize("ignore", sorted(IGNORE))
def test_open_lths_counts_follow_ceil_plus_one_over_all_weights(ignore):
    total = sum(p.numel() for p in prunable_parameters(case()).values())
    remaining = total
    for kept, _ in PINNED[ignore]:
        remaining -= math.ceil(FRACTION * remaining) + 1
        assert kept == remaining


def test_prunelabs_closed_form_keeps_more_than_open_lth():
    """The difference the fidelity notes list: about one entry per level with nothing ignored (the + 1, and
    ⌈·⌉ per level against one rounding of the closed form), many more when the ignored output layer counts
    towards open_lth's remaining weights but not towards prunelab's N."""
    model = case()
    for ignore, levels in PINNED.items():
        excluded = sum(p.numel() for n, p in prunable_parameters(model).items() if n in IGNORE[ignore])
        n = sum(p.numel() for p in prunable_parameters(model, IGNORE[ignore]).values())
        ours = [n - prune_count(1 - (1 - FRACTION) ** level, n) + excluded for level in range(1, LEVELS + 1)]
        assert [a - kept for a, (kept, _) in zip(ours, levels)] == DIFFS[ignore]
