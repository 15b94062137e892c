"""A small generated ImageFolder tree of JPEG files (train/ and val/, a few classes, tiny images of varied
sizes), so the streaming path runs end to end without ImageNet. Shared by the tests and the loader benchmark."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image


def write_image_folder(
    root: Path,
    classes: int = 3,
    train_per_class: int = 8,
    val_per_class: int = 3,
    sizes: tuple[int, int] = (20, 40),
    seed: int = 0,
) -> Path:
    """Write ``root/{train,val}/class_k/img_i.jpg``: each class a different mean colour plus noise."""
    rng = np.random.default_rng(seed)
    for split, count in (("train", train_per_class), ("val", val_per_class)):
        for k in range(classes):
            folder = root / split / f"class_{k}"
            folder.mkdir(parents=True, exist_ok=True)
            colour = np.array([255 * ((k + c) % 3) / 2 for c in range(3)])
            for i in range(count):
                h, w = (int(v) for v in rng.integers(sizes[0], sizes[1] + 1, size=2))
                pixels = np.clip(colour + rng.normal(0, 40, size=(h, w, 3)), 0, 255).astype(np.uint8)
                Image.fromarray(pixels).save(folder / f"img_{i}.jpg", quality=90)
    return root
