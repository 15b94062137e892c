"""Which dataset files a config needs, without torch: the workflow plans its data jobs from this at parse time.

The torchvision datasets (MNIST, Fashion-MNIST, CIFAR-10/100) are files under ``data_root`` that one data job
per dataset provides; streamed image folders (ImageNet, ``image_folder``) are placed by hand and only checked
when a real run starts. Loading them is ``prunelab.data``'s business (with torch).
"""

from __future__ import annotations

from pathlib import Path

from prunelab.data.catalog import STREAMED

# name -> (torchvision class name, sub-directory under root, files torchvision needs there, classes)
_MNIST_FILES = [
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
]
VISION_SETS = {
    "mnist": ("MNIST", "MNIST/raw", _MNIST_FILES, 10),
    "fashion_mnist": ("FashionMNIST", "FashionMNIST/raw", _MNIST_FILES, 10),
    "cifar10": (
        "CIFAR10",
        "cifar-10-batches-py",
        [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch", "batches.meta"],
        10,
    ),
    "cifar100": ("CIFAR100", "cifar-100-python", ["train", "test", "meta"], 100),
}
# lays Debian's dataset-fashion-mnist package out in torchvision's format (scripts/ of this repository)
FASHION_MNIST_SCRIPT = "scripts/fashion-mnist-debian.sh"


def expected_files(name: str, root: str | Path) -> tuple[Path, list[str]]:
    """The directory torchvision reads for ``name`` and the file names it needs there."""
    _, sub, files, _ = VISION_SETS[name]
    return Path(root) / sub, files


def dataset_files(name: str, root: str | Path) -> list[Path]:
    """Every file torchvision reads for ``name`` under ``root``: the outputs of the workflow's data job."""
    directory, files = expected_files(name, root)
    return [directory / f for f in files]


def missing_message(name: str, root: str | Path, key: str = "data_root") -> str | None:
    """One line naming the directory and the files still to be placed there, or None when all are present."""
    directory, files = expected_files(name, root)
    missing = [f for f in files if not (directory / f).is_file()]
    if not missing:
        return None
    hint = (
        f"lay it out with {FASHION_MNIST_SCRIPT} {root} (Debian's dataset-fashion-mnist), or set download: true"
        if name == "fashion_mnist"
        else "download it there, or set download: true on a machine online"
    )
    return f"dataset '{name}' not found: {directory} lacks {', '.join(missing)} (config key {key}={root}; {hint})"


def real_datasets(config: dict) -> dict[str, bool]:
    """The torchvision datasets the experiments train on, each with whether a dense config may download it.

    The workflow makes one data job per entry; ``digits`` is embedded and needs none, and streamed image
    folders (``STREAMED``) are placed by hand and checked at workflow start instead (`streamed_datasets`).
    """
    datasets: dict[str, bool] = {}
    for dataset in _used_datasets(config):
        if dataset["name"] != "digits" and dataset["name"] not in STREAMED:
            datasets[dataset["name"]] = datasets.get(dataset["name"], False) or bool(dataset.get("download"))
    return datasets


def streamed_datasets(config: dict) -> list[dict]:
    """The dataset entries of streamed image folders the experiments train on (checked at workflow start)."""
    return [dataset for dataset in _used_datasets(config) if dataset["name"] in STREAMED]


def _used_datasets(config: dict) -> list[dict]:
    used = {d for exp in config["experiments"].values() for d in exp["dense"]}
    return [config["dense"][dense_name]["dataset"] for dense_name in sorted(used)]
