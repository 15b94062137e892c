"""Images per second of prunelab's streaming loader vs a plain torchvision ImageFolder DataLoader loop.

Both read the same generated JPEG tree (ImageNet-like sizes, 224 random-resized crops with flips), with the
same number of workers, and deliver standardised float batches on the device. prunelab's loader adds the
per-image seeded draws that make resume exact, and standardises on the device instead of in the workers.
Target: streaming/plain >= 1 (not slower). Prints one line.

    python benchmarks/streaming_loader.py [--images 384] [--workers 2] [--repeats 3]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import torch
from common import describe, device, interleaved

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from image_folder import write_image_folder  # noqa: E402

from prunelab.data.stream import IMAGENET_MEAN, IMAGENET_STD  # noqa: E402
from prunelab.data.tensors import load_dataset  # noqa: E402

BATCH = 64
SIZE = 224


def plain_loader(root: Path, workers: int, dev: torch.device):
    """The usual torchvision pipeline: ImageFolder + transforms in the workers, shuffled DataLoader."""
    import torchvision.datasets as tvd
    import torchvision.transforms as T

    transform = T.Compose(
        [T.RandomResizedCrop(SIZE), T.RandomHorizontalFlip(), T.ToTensor(), T.Normalize(IMAGENET_MEAN, IMAGENET_STD)]
    )
    dataset = tvd.ImageFolder(str(root / "train"), transform)
    loader = torch.utils.data.DataLoader(
        dataset, batch_size=BATCH, shuffle=True, num_workers=workers, pin_memory=dev.type == "cuda"
    )

    def epoch():
        for x, y in loader:
            x.to(dev, non_blocking=True), y.to(dev, non_blocking=True)

    return epoch, len(dataset)


def streaming_loader(root: Path, workers: int, dev: torch.device):
    spec = {
        "name": "image_folder",
        "path": str(root),
        "size": SIZE,
        "augment": {"resized_crop": [0.08, 1.0], "flip": True},
    }
    data = load_dataset(spec, device=dev, workers=workers)
    state = {"epoch": 0}

    def epoch():
        state["epoch"] += 1
        for _x, _y in data.epoch_batches(BATCH, seed=0, epoch=state["epoch"]):
            pass

    return epoch, len(data.train_y)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=384, help="training images in the generated tree")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    dev = device()
    with tempfile.TemporaryDirectory() as tmp:
        per_class = args.images // 4
        root = write_image_folder(Path(tmp), classes=4, train_per_class=per_class, val_per_class=1, sizes=(300, 500))
        plain, n = plain_loader(root, args.workers, dev)
        streaming, n_stream = streaming_loader(root, args.workers, dev)
        assert n == n_stream
        times = interleaved({"streaming": streaming, "plain": plain}, dev, args.repeats)
    print(
        f"streaming_loader {n} JPEGs 300-500 px -> {SIZE}, {args.workers} workers: "
        f"streaming {n / times['streaming']:.0f} img/s, plain {n / times['plain']:.0f} img/s, "
        f"streaming/plain throughput {times.ratio('plain', 'streaming', dev)}; {describe(dev)}"
    )


if __name__ == "__main__":
    main()
