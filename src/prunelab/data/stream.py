"""Image datasets read from disk while training (ImageNet, any torchvision ImageFolder tree).

A split too large for memory is kept as a list of (file, class) pairs; images are decoded by DataLoader
workers into uint8 batches (pinned when a GPU trains), moved to the device and standardised there. The
epoch's sample order is the same seeded permutation the in-memory path uses, and every augmentation draw of
an image (its random-resized-crop box and its flip) comes from a generator seeded with
``(data_seed, epoch, sample index)``: the stream is a pure function of those three numbers, so a run resumed
mid-epoch, with any number of workers, sees exactly the crops an uninterrupted run saw. The DataLoader gets
its own generator, so it never draws from (and never shifts) the global RNG that the training state
checkpoints. Splitting the sample indices of a batch over ranks later is a pure function of the same order.

Layout: ``<root>/train/<class>/<image>`` and ``<root>/val/<class>/<image>``, where ``<root>`` is
``<data_root>/imagenet`` for ImageNet (whose split sizes are tabulated, so planning never lists 1.3 M files)
and the dataset's ``path`` for ``image_folder`` (absolute or relative to the working directory, so the plan
can count its images without knowing ``data_root``). ``val`` is the test split (as
in Liu et al.'s ImageNet numbers) and a validation hold-out is cut from ``train`` exactly as for the
in-memory datasets. Standardisation uses the usual ImageNet channel statistics: per-dataset statistics
would need a pass over every image before the first step.
"""

from __future__ import annotations

import hashlib
import math
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import numpy as np
import torch

from prunelab.data.batches import shard_bounds
from prunelab.data.catalog import DATASETS
from prunelab.errors import ConfigError, DataError

IMAGENET_MEAN, IMAGENET_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
EVAL_RESIZE_RATIO = 0.875  # evaluation: shorter side to size / 0.875 (256 for 224), then the centre crop
SPLITS = {"train": "train", "test": "val"}


def folder_root(spec: dict, data_root: str | Path) -> Path:
    """``<data_root>/imagenet`` for ImageNet, ``path`` for an ``image_folder`` dataset."""
    if spec["name"] == "imagenet":
        return Path(data_root) / "imagenet"
    if not spec.get("path"):
        raise ConfigError("dataset.path is required for dataset 'image_folder' (its folder of train/ and val/)")
    return Path(spec["path"])


@cache
def _listing(directory: str) -> tuple[tuple[str, ...], tuple[tuple[str, int], ...]]:
    from torchvision.datasets.folder import IMG_EXTENSIONS, find_classes, make_dataset

    classes, index = find_classes(directory)
    return tuple(classes), tuple(make_dataset(directory, index, IMG_EXTENSIONS))


def split_listing(spec: dict, data_root: str | Path, split: str) -> tuple[tuple[str, ...], tuple[tuple[str, int], ...]]:
    """Class names and sorted ``(path, class index)`` pairs of ``split`` (train/test); one clear line if absent."""
    directory = folder_root(spec, data_root) / SPLITS[split]
    if not directory.is_dir():
        raise DataError(
            f"dataset '{spec['name']}' not found: {directory} is not a directory (config key "
            f"data_root={data_root}; expected <class>/<image> folders under {SPLITS[split]}/)"
        )
    try:
        return _listing(str(directory))
    except (FileNotFoundError, OSError) as exc:
        raise DataError(f"dataset '{spec['name']}' under {directory} could not be listed: {exc}") from None


def check_present(spec: dict, data_root: str | Path) -> None:
    """Raise one :class:`DataError` line if the train or the val folder is missing or empty."""
    for split in SPLITS:
        split_listing(spec, data_root, split)


def holdout(n: int, validation: int, split_seed: int, name: str) -> tuple[torch.Tensor, torch.Tensor]:
    """Indices kept for training and held out for validation: the seeded rule of the in-memory datasets."""
    if not 0 <= validation < n:
        raise ConfigError(f"dataset.validation={validation} must be in [0, {n}) for '{name}'")
    order = torch.randperm(n, generator=torch.Generator().manual_seed(split_seed + 1))
    return order[: n - validation], order[n - validation :]


def sample_generator(seed: int, epoch: int, index: int) -> torch.Generator:
    """The generator of one image's augmentation draws in one epoch (independent streams via SeedSequence)."""
    state = np.random.SeedSequence((int(seed), int(epoch), int(index))).generate_state(1, np.uint64)[0]
    return torch.Generator().manual_seed(int(state))


def resized_crop_box(
    gen: torch.Generator,
    height: int,
    width: int,
    scale: tuple[float, float],
    ratio: tuple[float, float] = (3 / 4, 4 / 3),
) -> tuple[int, int, int, int]:
    """``(top, left, h, w)`` of a random-resized crop: area fraction in ``scale``, log-uniform aspect ``ratio``.

    Ten tries at a box that fits the image, then a centre crop with the aspect ratio clamped to ``ratio``
    (the usual Inception-style rule), all drawn from ``gen``.
    """
    area = height * width
    log_lo, log_hi = math.log(ratio[0]), math.log(ratio[1])
    for _ in range(10):
        u = torch.rand(2, generator=gen).tolist()
        target = area * (scale[0] + u[0] * (scale[1] - scale[0]))
        aspect = math.exp(log_lo + u[1] * (log_hi - log_lo))
        w, h = round(math.sqrt(target * aspect)), round(math.sqrt(target / aspect))
        if 0 < w <= width and 0 < h <= height:
            top = int(torch.randint(0, height - h + 1, (1,), generator=gen))
            left = int(torch.randint(0, width - w + 1, (1,), generator=gen))
            return top, left, h, w
    aspect = width / height
    if aspect < ratio[0]:
        w, h = width, round(width / ratio[0])
    elif aspect > ratio[1]:
        h, w = height, round(height * ratio[1])
    else:
        w, h = width, height
    return (height - h) // 2, (width - w) // 2, h, w


class _Decoded(torch.utils.data.Dataset):
    """``dataset[(epoch, index)]`` → (uint8 CHW image, label); the augmentation is fixed by the key alone."""

    def __init__(self, samples: tuple[tuple[str, int], ...], size: int, augment: dict | None, seed: int):
        self.samples, self.size, self.augment, self.seed = samples, size, augment, seed

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, key: tuple[int, int]) -> tuple[torch.Tensor, int]:
        import torchvision.transforms.functional as TF
        from PIL import Image

        epoch, index = key
        path, label = self.samples[index]
        try:
            with Image.open(path) as raw:
                image = raw.convert("RGB")
        except (OSError, SyntaxError, ValueError) as exc:  # PIL's ways of saying "not an image I can decode"
            raise DataError(f"{path}: not a readable image ({exc})") from None
        augment = self.augment or {}
        gen = sample_generator(self.seed, epoch, index)
        if augment.get("resized_crop"):
            top, left, h, w = resized_crop_box(gen, image.height, image.width, tuple(augment["resized_crop"]))
            image = TF.resized_crop(image, top, left, h, w, [self.size, self.size])
        else:  # evaluation transform: shorter side to size/0.875, centre crop
            image = TF.center_crop(TF.resize(image, round(self.size / EVAL_RESIZE_RATIO)), self.size)
        if augment.get("flip") and bool(torch.rand(1, generator=gen) < 0.5):
            image = TF.hflip(image)
        return TF.pil_to_tensor(image), label


@dataclass
class ImageSplit:
    """One split as files; ``batches`` streams augmented training batches, ``eval_batches`` plain ones."""

    samples: tuple[tuple[str, int], ...]
    size: int
    augment: dict
    normalize: bool
    workers: int
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))

    def __len__(self) -> int:
        return len(self.samples)

    def _loader(
        self,
        keys: list[tuple[int, int]],
        batch_size: int,
        augment: dict | None,
        seed: int,
        shard: tuple[int, int] = (0, 1),
    ):
        """Batches of ``keys`` in order; with ``shard`` = ``(rank, world)`` only that rank's slice of each is
        decoded (a data-parallel rank never decodes the images of another)."""
        groups = [keys[i : i + batch_size] for i in range(0, len(keys), batch_size)]
        parts = [group[slice(*shard_bounds(len(group), *shard))] for group in groups]
        return torch.utils.data.DataLoader(
            _Decoded(self.samples, self.size, augment, seed),
            batch_sampler=parts,
            num_workers=self.workers,
            pin_memory=self.device.type == "cuda",
            generator=torch.Generator().manual_seed(0),  # workers' base seed: never the global RNG
            persistent_workers=False,
            prefetch_factor=4 if self.workers else None,
        )

    def _batches(
        self,
        keys: list[tuple[int, int]],
        batch_size: int,
        augment: dict | None,
        seed: int,
        shard: tuple[int, int] = (0, 1),
    ) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """Standardised device batches; an unreadable image is one line even when a worker hit it (the
        DataLoader re-raises a worker's error with the worker's whole traceback as its message)."""
        try:
            for images, labels in self._loader(keys, batch_size, augment, seed, shard):
                yield self._standardise(images), labels.to(self.device, non_blocking=True)
        except DataError as exc:
            raise DataError(str(exc).strip().splitlines()[-1].split("DataError: ", 1)[-1]) from None

    def _standardise(self, images: torch.Tensor) -> torch.Tensor:
        """uint8 → (x/255 − mean)/std as one in-place scale and shift (no temporaries on a CPU device)."""
        x = images.to(self.device, non_blocking=True).float()
        mean = torch.tensor(IMAGENET_MEAN if self.normalize else (0.0,) * 3, device=self.device).view(1, 3, 1, 1)
        std = torch.tensor(IMAGENET_STD if self.normalize else (1.0,) * 3, device=self.device).view(1, 3, 1, 1)
        return x.mul_(1.0 / (255.0 * std)).sub_(mean / std)

    def batches(
        self,
        order: torch.Tensor,
        batch_size: int,
        seed: int,
        epoch: int,
        start: int = 0,
        shard: tuple[int, int] = (0, 1),
    ) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """Training batches ``start``… of an epoch whose sample order is ``order`` (``shard``: see ``_loader``)."""
        keys = [(epoch, int(i)) for i in order[start * batch_size :]]
        return self._batches(keys, batch_size, self.augment, seed, shard)

    def eval_batches(
        self, batch_size: int, indices: list[int] | None = None
    ) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """Batches of ``indices`` (default: all, in order) with the evaluation transform (resize, centre crop)."""
        keys = [(0, i) for i in (range(len(self)) if indices is None else indices)]
        return self._batches(keys, batch_size, None, 0)

    def index_select(self, dim: int, index: torch.Tensor) -> torch.Tensor:
        """The images at ``index``, decoded with the evaluation transform into one device tensor: what an
        in-memory split gives the data-driven scorers (SNIP, GraSP, OBD …), which draw a few examples."""
        if dim != 0:
            raise ValueError("a streamed split selects images along dimension 0 only")
        chunks = [x for x, _ in self.eval_batches(256, index.tolist())]
        return torch.cat(chunks) if chunks else torch.empty(0, 3, self.size, self.size, device=self.device)


@dataclass
class StreamData:
    """The streamed counterpart of :class:`~prunelab.data.tensors.TensorData`: same names, files for ``*_x``."""

    name: str
    train_x: ImageSplit
    train_y: torch.Tensor
    val_x: ImageSplit
    val_y: torch.Tensor
    test_x: ImageSplit
    test_y: torch.Tensor
    num_classes: int
    augment: dict
    fingerprint: str

    @property
    def input_shape(self) -> tuple[int, ...]:
        return (3, self.train_x.size, self.train_x.size)

    def to(self, device: torch.device | str) -> StreamData:
        device = torch.device(device)
        for split in (self.train_x, self.val_x, self.test_x):
            split.device = device
        for key in ("train_y", "val_y", "test_y"):
            setattr(self, key, getattr(self, key).to(device))
        return self

    def epoch_batches(
        self, batch_size: int, seed: int, epoch: int, start: int = 0, shard: tuple[int, int] = (0, 1)
    ) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        from prunelab.data.batches import epoch_generator

        order = torch.randperm(len(self.train_y), generator=epoch_generator(seed, epoch))
        return self.train_x.batches(order, batch_size, seed, epoch, start, shard)


def _fingerprint(root: Path, classes: tuple[str, ...], listings: dict[str, tuple]) -> str:
    """A digest of the file list (relative names and byte sizes) and classes: hashing every byte of ImageNet
    would cost a pass over 140 GB before each run."""
    digest = hashlib.sha256("\n".join(classes).encode())
    for split, samples in listings.items():
        for path, label in samples:
            digest.update(f"{split}\t{os.path.relpath(path, root)}\t{label}\t{os.path.getsize(path)}\n".encode())
    return digest.hexdigest()[:16]


def split_sizes(spec: dict) -> tuple[int, int]:
    """(training images before the validation hold-out, test images): ImageNet's from the table, an
    ``image_folder``'s counted in its listing (which the job reuses)."""
    if spec["name"] == "imagenet":
        return DATASETS["imagenet"][:2]
    return tuple(len(split_listing(spec, "", split)[1]) for split in SPLITS)  # type: ignore[return-value]


def load_stream(spec: dict, root: str | Path, device: torch.device | str, workers: int) -> StreamData:
    """The :class:`StreamData` of a streamed dataset spec; labels in memory, images on disk."""
    classes, train = split_listing(spec, root, "train")
    test_classes, test = split_listing(spec, root, "test")
    if test_classes != classes:
        raise DataError(
            f"dataset '{spec['name']}' under {folder_root(spec, root)}: train/ and val/ have "
            f"different class folders ({len(classes)} vs {len(test_classes)})"
        )
    keep, val = holdout(len(train), int(spec.get("validation", 0)), int(spec.get("split_seed", 0)), spec["name"])
    augment = dict(spec.get("augment", {}))
    if augment.get("crop_padding"):
        raise ConfigError(
            f"dataset.augment.crop_padding is for in-memory datasets; '{spec['name']}' streams "
            f"from disk and uses augment.resized_crop: [min_area, max_area]"
        )
    if spec.get("channels") not in (None, 3):
        raise ConfigError(f"dataset.channels={spec['channels']}: '{spec['name']}' images are decoded as RGB (3)")
    size, normalize = int(spec.get("size") or 224), bool(spec.get("normalize", True))

    def split(samples) -> tuple[ImageSplit, torch.Tensor]:
        labels = torch.tensor([label for _, label in samples], dtype=torch.int64)
        return ImageSplit(tuple(samples), size, augment, normalize, workers), labels

    train_x, train_y = split([train[i] for i in keep.tolist()])
    val_x, val_y = split([train[i] for i in val.tolist()])
    test_x, test_y = split(test)
    data = StreamData(
        spec["name"],
        train_x,
        train_y,
        val_x,
        val_y,
        test_x,
        test_y,
        len(classes),
        augment,
        _fingerprint(folder_root(spec, root), classes, {"train": train, "val": test}),
    )
    return data.to(device)
