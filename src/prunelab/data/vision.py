"""MNIST, Fashion-MNIST, CIFAR-10 and CIFAR-100 through torchvision, from a configured root.

``download`` is off by default: cluster nodes are often offline and a silent download would make two runs
of the same spec read different bytes. A missing dataset is reported in one line that names the
directory and the files torchvision expects there. CIFAR's files are checked against torchvision's md5
sums unless ``verify_checksums`` is false (used for small stand-ins in the same on-disk format).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from prunelab.data.files import FASHION_MNIST_SCRIPT, VISION_SETS, dataset_files, expected_files, missing_message  # noqa: F401 - torch-free, so the workflow can plan data jobs cheaply
from prunelab.errors import DataError


def check_present(name: str, root: str | Path, key: str = "data_root") -> None:
    """Raise a one-line :class:`DataError` naming the directory and missing files, if any are missing."""
    message = missing_message(name, root, key)
    if message:
        raise DataError(message)


def provide(name: str, root: str | Path, download: bool) -> None:
    """The workflow's data step: download ``name`` into ``root`` with torchvision, or check that it is there.

    Checksums are always verified on download (torchvision does), so a downloaded tree is the published one.
    """
    if not download:
        check_present(name, root)
        return
    cls = _torchvision_class(name, verify_checksums=True)
    try:
        for train in (True, False):
            cls(str(root), train=train, download=True)
    except (RuntimeError, OSError) as exc:  # offline, or a server refusing
        raise DataError(f"dataset '{name}' could not be downloaded into {root}: {exc}") from None
    check_present(name, root)


def _torchvision_class(name: str, verify_checksums: bool):
    import torchvision.datasets as tvd

    cls = getattr(tvd, VISION_SETS[name][0])
    if verify_checksums or not name.startswith("cifar"):
        return cls

    class _PresenceChecked(cls):  # same loader, integrity reduced to "the files are there"
        meta = {**cls.meta, "md5": None}  # torchvision's check_integrity(path, None) only tests existence

        def _check_integrity(self) -> bool:
            directory, files = expected_files(name, self.root)
            return all((directory / f).is_file() for f in files)

    return _PresenceChecked


def load_vision_arrays(
    name: str, root: str | Path, download: bool, verify_checksums: bool
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, int]:
    """uint8 ``(N, C, H, W)`` train/test images and int64 labels, exactly as torchvision reads them."""
    if not download:
        check_present(name, root)
    cls = _torchvision_class(name, verify_checksums)
    try:
        train = cls(str(root), train=True, download=download)
        test = cls(str(root), train=False, download=download)
    except RuntimeError as exc:
        directory, _ = expected_files(name, root)
        raise DataError(f"dataset '{name}' under {directory} could not be read: {exc}") from None
    return (*_as_tensors(train), *_as_tensors(test), VISION_SETS[name][3])


def _as_tensors(ds) -> tuple[torch.Tensor, torch.Tensor]:
    data = ds.data
    if isinstance(data, np.ndarray):  # CIFAR: (N, H, W, C) uint8
        images = torch.from_numpy(np.ascontiguousarray(data)).permute(0, 3, 1, 2).contiguous()
    else:  # MNIST family: (N, H, W) uint8 tensor
        images = data.unsqueeze(1).contiguous()
    labels = torch.as_tensor(np.asarray(ds.targets), dtype=torch.int64)
    return images, labels
