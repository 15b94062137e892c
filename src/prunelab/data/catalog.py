"""Which datasets prunelab knows and their sizes, without torch: planning, resource estimates and the
Snakefile's parse read this table; loading a dataset (``tensors``, ``vision``, ``stream``) is separate."""

from __future__ import annotations

# name -> (training examples before the validation hold-out, test examples, native (C, H, W))
DATASETS: dict[str, tuple[int, int, tuple[int, int, int]]] = {
    "digits": (1438, 359, (1, 8, 8)),  # scikit-learn digits, 20 % test split (data/digits.py)
    "mnist": (60000, 10000, (1, 28, 28)),
    "fashion_mnist": (60000, 10000, (1, 28, 28)),
    "cifar10": (50000, 10000, (3, 32, 32)),
    "cifar100": (50000, 10000, (3, 32, 32)),
    "imagenet": (1281167, 50000, (3, 224, 224)),  # ILSVRC-2012 train / val, streamed at the 224 crop
}
# read from disk while training (prunelab.data.stream), never held in memory; an image folder's sizes are
# counted in its listing
STREAMED = ("imagenet", "image_folder")
