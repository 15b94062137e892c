"""The embedded default dataset: scikit-learn's 1,797 handwritten digits, resized to MNIST or CIFAR shape.

It ships inside scikit-learn, so the demo and CI need no download. The 8×8 images (values 0–16) are
upsampled bilinearly to the configured ``size`` and repeated over ``channels``, which lets every MNIST
model (1×28×28, 1×32×32) and every CIFAR model (3×32×32) run on it unchanged.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import torch

TEST_FRACTION = 0.2


def _digits_table() -> np.ndarray:
    """The (1797, 65) table behind ``sklearn.datasets.load_digits``: 64 pixels (0–16) and the label.

    Read straight from scikit-learn's bundled ``digits.csv.gz`` when it is where scikit-learn keeps it:
    importing scikit-learn costs seconds per job, which dominates the small jobs of the demo.
    """
    spec = importlib.util.find_spec("sklearn")
    if spec is not None and spec.submodule_search_locations:
        path = Path(list(spec.submodule_search_locations)[0]) / "datasets" / "data" / "digits.csv.gz"
        if path.is_file():
            return np.loadtxt(path, delimiter=",", dtype=np.float64)
    from sklearn.datasets import load_digits

    bunch = load_digits()
    return np.column_stack([bunch.data, bunch.target])


def load_digits_arrays() -> tuple[torch.Tensor, torch.Tensor, int]:
    """All 1,797 images as uint8 ``(N, 1, 8, 8)`` on the 0–255 scale, labels, and the class count.

    Resizing to the model's input shape happens with every other dataset's, in :mod:`prunelab.data.tensors`.
    """
    table = _digits_table()
    pixels = np.rint(table[:, :64] * (255.0 / 16.0)).astype(np.uint8).reshape(-1, 1, 8, 8)
    return torch.from_numpy(pixels), torch.from_numpy(table[:, 64].astype(np.int64)), 10


def split_train_test(n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """A fixed seeded permutation: the last ``TEST_FRACTION`` of it is the test set."""
    order = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
    n_test = int(round(TEST_FRACTION * n))
    return order[: n - n_test], order[n - n_test :]
