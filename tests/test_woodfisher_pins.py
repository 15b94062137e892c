"""WoodFisher's own pruner's output, pinned (issue #24 item 5): scripts/crosscheck/woodfisher.py --pin ran
IST-DASLab/WoodFisher @ 207316307361 ``pruners/woodfisherblock.py:BlockwiseWoodburryFisherPruner.prune_to_level``
(options of ``scripts/sweep_mlpnet_oneshot.sh``: per-example gradients, ``--woodburry-joint-sparsify``; blocks of 8
via ``--fisher-split-grads --fittable-params 8``; damp 1e-3) on tests/toy.py's float64 ReLU MLP (5-6-3) with the
first 20 training examples, at sparsity 0.5. These tests hold prunelab's ``woodfisher`` to that result without
their code (docs/methods.md §2.6).

Their selection keeps the entries whose statistic is above the ⌈N(1−p)⌉-th largest, so it prunes 25 of 48
where prunelab prunes round(0.5·48) = 24; asking prunelab for 25 (sparsity 25/48) gives their mask.
Their update is the sum of the single-weight OBS updates (``independent``), also under
``--woodburry-joint-sparsify``, which only makes the mask global across layers.
"""

from __future__ import annotations

import hashlib

import torch
from toy import mlp, toy_data

from prunelab.pruning.base import resolve_hparams
from prunelab.pruning.multistep import run_method

THEIR_MASK_SHA256 = "20e8c08572c66d46c2b29f2eef5327e94d34f8de7fa2ab6e4d50b811e2f484d4"
THEIR_WEIGHTS = {  # θ ⊙ m after their update
    "net.1.weight": [
        0.0,
        -0.0,
        -0.2735848016329289,
        -0.29222193766286025,
        0.0,
        0.102584120989317,
        -0.0,
        0.3771545738437392,
        0.0,
        0.15106825448365885,
        0.0,
        0.0,
        -0.530445607597238,
        -0.31128327668928585,
        -0.19032586104711802,
        -0.0,
        0.3272357073138221,
        -0.0,
        -0.41710536823499333,
        0.0,
        0.0,
        0.3572901564522535,
        -0.0,
        0.0,
        0.0,
        0.0,
        0.4016867387937305,
        -0.44474542279490387,
        -0.32506026449974124,
        -0.0,
    ],
    "net.3.weight": [
        -0.0,
        0.35744449499788883,
        0.11501908677000122,
        0.14618770711583826,
        -0.0,
        -0.0,
        0.0,
        -0.3778511166535648,
        -0.3206194779370958,
        0.0,
        0.2650238836941946,
        -0.0,
        0.0,
        -0.0,
        0.1668114432278484,
        0.3326623006998778,
        0.16202647984027863,
        0.0,
    ],
}
HPARAMS = {"num_grads": 20, "fisher_mini_bsz": 1, "block_size": 8, "damp": 1e-3}


def _prune(sparsity, **extra):
    data = toy_data()
    net = mlp(widths=(6,), act="relu")
    return run_method(
        net, "woodfisher", {**HPARAMS, **extra}, sparsity, batches=[(data.train_x[:20], data.train_y[:20])]
    )


def _digest(mask) -> str:
    return hashlib.sha256(b"".join(m.numpy().tobytes() for m in mask.values())).hexdigest()


def test_their_count_gives_their_mask_and_the_default_update_their_weights():
    out = _prune(25 / 48)
    assert _digest(out.mask) == THEIR_MASK_SHA256
    params = dict(out.model.named_parameters())
    for name, expected in THEIR_WEIGHTS.items():
        got = (params[name] * out.mask[name]).detach().flatten()
        assert torch.allclose(got, torch.tensor(expected, dtype=torch.float64), atol=1e-9, rtol=1e-7)


def test_the_joint_update_is_not_theirs():
    out = _prune(25 / 48, update="joint")
    got = dict(out.model.named_parameters())["net.1.weight"].detach().flatten()
    assert not torch.allclose(got, torch.tensor(THEIR_WEIGHTS["net.1.weight"], dtype=torch.float64), atol=1e-4)


def test_prunelabs_exact_count_prunes_one_entry_fewer_than_theirs():
    ours = _prune(0.5).mask
    theirs = _prune(25 / 48).mask
    assert sum(int(m.sum()) for m in ours.values()) == 24 == sum(int(m.sum()) for m in theirs.values()) + 1
    assert all(bool((ours[n] | ~theirs[n]).all()) for n in ours)


def test_default_update_is_the_authors():
    assert resolve_hparams("woodfisher", {})["update"] == "independent"
