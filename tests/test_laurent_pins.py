"""prunelab reproduces the masks of Laurent et al.'s own code (docs/methods.md §1.8, §2.5) without that code.

The hashes below are the authors' masks (Thrandis/loss-models-pruning @ b784b84, ``pruning.get_mask_iteratively``),
computed once by ``scripts/crosscheck/laurent.py --authors PATH --pin`` on the script's tiny float64 digits setup
at sparsity 0.9: MP, LM, QM and OBD at λ ∈ {0, 0.1}, in one step and in four exponential steps where each step
scores on its own fresh subset (their shuffled loader; prunelab's ``per_step: fresh``). A change to a criterion,
the curvature, the schedule, the rounding of counts or the per-step draw changes a hash.
"""

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts" / "crosscheck"))

import laurent  # noqa: E402

AUTHORS = {
    "MP lambda=0.0 T=1": "17bd98667d35f9cd5d4ce4c002e42910f8239e637bac82bccb6a4699e85be8dd",
    "MP lambda=0.0 T=4": "17bd98667d35f9cd5d4ce4c002e42910f8239e637bac82bccb6a4699e85be8dd",
    "MP lambda=0.1 T=1": "17bd98667d35f9cd5d4ce4c002e42910f8239e637bac82bccb6a4699e85be8dd",
    "MP lambda=0.1 T=4": "17bd98667d35f9cd5d4ce4c002e42910f8239e637bac82bccb6a4699e85be8dd",
    "LM lambda=0.0 T=1": "8d6688996700681dd1eeb880ee86588bc0de65f73c96683a4549254808da3251",
    "LM lambda=0.0 T=4": "3a44effbcc285491322fec6300486fd86f6e1b05194d22b60224a6500b91dd5c",
    "LM lambda=0.1 T=1": "90f84279b4bb7f507d3fca73a5f133749873d46cb4859bf277351eec178e92ec",
    "LM lambda=0.1 T=4": "f87e90b3fbbd32226835fdddcf99f617e57e2e5813ee104c1092ef9bf5cceb37",
    "QM lambda=0.0 T=1": "d3d97b84d99d78288a85a7177eb47af720b495591d0eef10a1205224927ac29e",
    "QM lambda=0.0 T=4": "32d45666a437060ffbd4bb378aaf342dc39d9445bdf58f42d4a468af64d58501",
    "QM lambda=0.1 T=1": "7fa774a5ca450d4db0b3794edcfbc3db786ea2abbeae95d35d9d998c0f4d7aec",
    "QM lambda=0.1 T=4": "6f70ff5fbf7e8d6a267254f769ec932acdc75209706fa5851c50fda37fc70a00",
    "OBD lambda=0.0 T=1": "1f4510ec0ce9d1e3cdc51c9a05fc8bfe85f19660c9ab338780c461d7f41b0c2b",
    "OBD lambda=0.0 T=4": "9ba61aae5c524f612aca1e5004ce47c04cb14cc9433fa47379d4e29d98846a86",
    "OBD lambda=0.1 T=1": "ae406566dab4f106dacaddec279d54131efce34021ebb212331d25d629233901",
    "OBD lambda=0.1 T=4": "432a0325b53fcdbc999d52f4dad94b5997e47a9817bd214449334c6667910433",
}


@pytest.fixture(scope="module")
def setup():
    return laurent.tiny_setup()


@pytest.mark.parametrize("criterion,lam,steps", laurent.PIN_CASES)
def test_prunelab_gives_the_authors_mask(setup, criterion, lam, steps):
    model, fresh, _ = setup
    mask = laurent.ours(model, criterion, lam, laurent.PIN_SPARSITY, steps, fresh)
    assert laurent.digest(mask) == AUTHORS[f"{criterion} lambda={lam} T={steps}"]


@pytest.mark.parametrize("criterion", ["LM", "QM", "OBD"])
def test_rescoring_one_subset_at_every_step_is_not_the_authors_mask(setup, criterion):
    model, _, fixed = setup
    mask = laurent.ours(model, criterion, 0.0, laurent.PIN_SPARSITY, 4, fixed)
    assert laurent.digest(mask) != AUTHORS[f"{criterion} lambda=0.0 T=4"]
