"""Turn a dataset spec into standardised device tensors with seeded splits and a raw-bytes fingerprint."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

import torch
import torch.nn.functional as F

from prunelab.data.batches import EpochPlan
from prunelab.data.catalog import STREAMED
from prunelab.data.digits import load_digits_arrays, split_train_test
from prunelab.data.stream import StreamData, load_stream
from prunelab.data.vision import VISION_SETS, load_vision_arrays
from prunelab.errors import ConfigError

DATASETS = ("digits",) + tuple(VISION_SETS) + STREAMED


@dataclass
class TensorData:
    """Splits as float tensors on one device; ``augment`` is applied per batch by the batch plan."""

    name: str
    train_x: torch.Tensor
    train_y: torch.Tensor
    val_x: torch.Tensor
    val_y: torch.Tensor
    test_x: torch.Tensor
    test_y: torch.Tensor
    num_classes: int
    augment: dict = field(default_factory=dict)
    fingerprint: str = ""

    @property
    def input_shape(self) -> tuple[int, ...]:
        return tuple(self.train_x.shape[1:])

    def to(self, device: torch.device | str) -> TensorData:
        for key in ("train_x", "train_y", "val_x", "val_y", "test_x", "test_y"):
            setattr(self, key, getattr(self, key).to(device))
        return self

    def epoch_batches(self, batch_size: int, seed: int, epoch: int, start: int = 0, shard: tuple[int, int] = (0, 1)):
        """The training batches of ``epoch`` from batch index ``start`` (see :class:`EpochPlan`); with ``shard``
        = ``(rank, world)``, that data-parallel rank's slice of each."""
        plan = EpochPlan.make(len(self.train_y), batch_size, seed, epoch, self.augment)
        return plan.batches(self.train_x, self.train_y, start=start, shard=shard)


def _fingerprint(*tensors: torch.Tensor) -> str:
    digest = hashlib.sha256()
    for t in tensors:
        digest.update(str(tuple(t.shape)).encode())
        digest.update(t.contiguous().numpy().tobytes())
    return digest.hexdigest()[:16]


def _resize(images: torch.Tensor, size: int | None, channels: int | None) -> torch.Tensor:
    x = images.float().div_(255.0)
    if size is not None and tuple(x.shape[-2:]) != (size, size):
        x = F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False)
    if channels is not None and x.shape[1] != channels:
        if x.shape[1] != 1:
            raise ConfigError(f"dataset.channels={channels}: can only replicate single-channel images")
        x = x.expand(-1, channels, -1, -1)
    return x.contiguous()


def load_dataset(
    spec: dict, root: str | Path = "data", device: torch.device | str = "cpu", workers: int = 0
) -> TensorData | StreamData:
    """Load ``spec`` (the dataset part of a run spec) as :class:`TensorData` on ``device``.

    ImageNet and image folders are not loaded but streamed (:class:`StreamData`, decoded by ``workers``
    DataLoader processes); they offer the same split names and ``epoch_batches`` to the training loop.

    The validation split is the last ``validation`` examples of a seeded permutation of the training set
    (seed ``split_seed``), so it is the same for every run with the same dataset spec.
    """
    name = spec["name"]
    if name in STREAMED:
        return load_stream(spec, root, device, workers)
    if name == "digits":
        images, labels, classes = load_digits_arrays()
        train_idx, test_idx = split_train_test(len(labels), spec.get("split_seed", 0))
        tr_img, tr_lab, te_img, te_lab = images[train_idx], labels[train_idx], images[test_idx], labels[test_idx]
    elif name in VISION_SETS:
        tr_img, tr_lab, te_img, te_lab, classes = load_vision_arrays(
            name, root, spec.get("download", False), spec.get("verify_checksums", True)
        )
    else:
        raise ConfigError(f"dataset.name={name!r} is unknown (allowed: {', '.join(DATASETS)})")

    fingerprint = _fingerprint(tr_img, tr_lab, te_img, te_lab)
    n_val = int(spec.get("validation", 0))
    if not 0 <= n_val < len(tr_lab):
        raise ConfigError(f"dataset.validation={n_val} must be in [0, {len(tr_lab)}) for '{name}'")
    order = torch.randperm(len(tr_lab), generator=torch.Generator().manual_seed(spec.get("split_seed", 0) + 1))
    keep, val = order[: len(order) - n_val], order[len(order) - n_val :]

    size, channels = spec.get("size"), spec.get("channels")
    train_x = _resize(tr_img[keep], size, channels)
    val_x = _resize(tr_img[val], size, channels)
    test_x = _resize(te_img, size, channels)
    if spec.get("normalize", True):
        mean = train_x.mean(dim=(0, 2, 3), keepdim=True)
        std = train_x.std(dim=(0, 2, 3), keepdim=True).clamp_min(1e-6)
        train_x, val_x, test_x = ((t - mean) / std for t in (train_x, val_x, test_x))
    data = TensorData(
        name=name,
        train_x=train_x,
        train_y=tr_lab[keep],
        val_x=val_x,
        val_y=tr_lab[val],
        test_x=test_x,
        test_y=te_lab,
        num_classes=classes,
        augment=dict(spec.get("augment", {})),
        fingerprint=fingerprint,
    )
    return data.to(device)
