"""Datasets as workflow steps, through Snakemake: dry runs need no data, real runs stop before any job when a
dataset is missing, and data in place satisfies the data job so that training runs."""

import yaml
from conftest import ROOT, planned_jobs, snakemake
from test_data import write_mnist

TINY = yaml.safe_load((ROOT / "tests" / "configs" / "tiny.yaml").read_text())


def config_on(tmp_path, datasets: dict[str, str]) -> str:
    """The tiny config with one dense run per (dense name -> dataset) and data_root tmp_path/datasets."""
    config = yaml.safe_load(yaml.safe_dump(TINY))
    template = config["dense"].pop("lenet")
    for dense_name, dataset in datasets.items():
        config["dense"][dense_name] = {
            **template,
            "dataset": {"name": dataset, "size": 8, "channels": 1, "validation": 2, "verify_checksums": False},
        }
    config["experiments"]["oneshot"]["dense"] = list(datasets)
    config["data_root"] = str(tmp_path / "datasets")
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(config))
    return str(path)


def test_dry_run_without_the_data_lists_the_data_job(tmp_path):
    config = config_on(tmp_path, {"fashion": "fashion_mnist"})
    jobs = planned_jobs(snakemake(tmp_path, "-n", "--configfile", config))
    assert jobs["data_fashion_mnist"] == 1 and jobs["train"] == 1
    assert not (tmp_path / "datasets").exists() and not (tmp_path / "results").exists()


def test_real_run_with_the_data_missing_stops_with_one_line_and_writes_nothing(tmp_path):
    config = config_on(tmp_path, {"fashion": "fashion_mnist"})
    proc = snakemake(tmp_path, "--configfile", config, "--cores", "1", check=False)
    assert proc.returncode != 0
    lines = [line for line in proc.stderr.splitlines() if "not found" in line]
    assert lines == [
        f"dataset 'fashion_mnist' not found: {tmp_path}/datasets/FashionMNIST/raw lacks "
        "train-images-idx3-ubyte, train-labels-idx1-ubyte, t10k-images-idx3-ubyte, "
        f"t10k-labels-idx1-ubyte (config key data_root={tmp_path}/datasets; lay it out with "
        f"scripts/fashion-mnist-debian.sh {tmp_path}/datasets (Debian's dataset-fashion-mnist), "
        "or set download: true)"
    ]
    assert not (tmp_path / "results").exists()


def test_mixed_suite_stops_before_training_the_dataset_that_is_present(tmp_path):
    write_mnist(tmp_path / "datasets")
    config = config_on(tmp_path, {"digits_net": "mnist", "cifar_net": "cifar10"})
    proc = snakemake(tmp_path, "--configfile", config, "--cores", "1", check=False)
    assert proc.returncode != 0
    lines = [line for line in proc.stderr.splitlines() if "not found" in line]
    assert len(lines) == 1 and lines[0].startswith("dataset 'cifar10' not found:")
    assert not (tmp_path / "results").exists()


def test_data_in_place_satisfies_the_data_job_and_training_runs(tmp_path):
    raw = write_mnist(tmp_path / "datasets", "FashionMNIST")
    placed = {path.name: path.read_bytes() for path in raw.iterdir()}
    config = config_on(tmp_path, {"fashion": "fashion_mnist"})
    jobs = planned_jobs(snakemake(tmp_path, "-n", "--configfile", config))
    assert "data_fashion_mnist" not in jobs and jobs["train"] == 1
    snakemake(tmp_path, "--configfile", config, "--cores", "1", "--until", "train")
    assert len(list((tmp_path / "results" / "runs" / "dense").glob("*/provenance.json"))) == 1
    assert {path.name: path.read_bytes() for path in raw.iterdir()} == placed
