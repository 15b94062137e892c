"""What a run asks the cluster for — threads, memory, wall time, GPUs — estimated from its spec alone.

The workflow declares these per job (rules/common.smk), so a SLURM submission requests roughly what the
job needs instead of one size for all: a LeNet run on the digits gets a few minutes and a small slice of
memory, a ResNet-56 on CIFAR-10 a GPU and hours. The estimate is deliberately coarse (a cost model of
multiply-accumulates plus per-layer launch overhead, times a safety factor); a job that still runs out of
time or memory is resubmitted with a larger request, because every estimate grows with Snakemake's
``attempt`` counter, and it resumes from its ``train_state.pt`` checkpoint instead of starting over.

Pure Python on purpose: the Snakefile is parsed on the login node and again inside every job, so this
module must not import torch. Model sizes are tabulated at a reference input shape (a unit test checks
the table against the real models) and scaled with the image area; MLP sizes are computed exactly.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

from prunelab.data.catalog import DATASETS, STREAMED
from prunelab.training.schedules import iterations_per_epoch, total_iterations

STREAM_WORKERS = 4  # runtime.loader_workers' default: CPU cores a streamed run decodes images on
STREAM_PREFETCH_BATCHES = STREAM_WORKERS * 4  # batches in flight (4 per worker), as uint8 images in host memory
STREAM_WORKER_MB = 400  # each worker's own Python, torch and PIL


@dataclass(frozen=True)
class ModelSize:
    """Parameters, multiply-accumulates per example and conv/linear layers at a reference input."""

    params: int
    macs: int
    layers: int
    reference: tuple[int, int, int]
    scales_with_area: bool  # convolutional trunk: MACs grow with H·W; LeNet-5 resamples to a fixed size


# Measured with prunelab.metrics.flops.count at the reference shape, 10 classes (tests/test_resources.py).
CONV_MODELS: dict[str, ModelSize] = {
    "lenet5": ModelSize(61706, 416520, 5, (1, 28, 28), False),
    "lenet5_caffe": ModelSize(431080, 2293000, 4, (1, 28, 28), False),
    "resnet20": ModelSize(269722, 40551040, 20, (3, 32, 32), True),
    "resnet32": ModelSize(464154, 68862592, 32, (3, 32, 32), True),
    "resnet56": ModelSize(853018, 125485696, 56, (3, 32, 32), True),
    "resnet110": ModelSize(1727962, 252887680, 110, (3, 32, 32), True),
    "preact_resnet18": ModelSize(11172170, 555422720, 21, (3, 32, 32), True),
    "resnet18": ModelSize(11181642, 1813566464, 21, (3, 224, 224), True),
    "resnet34": ModelSize(21289802, 3663254528, 37, (3, 224, 224), True),
    "resnet50": ModelSize(23528522, 4087156736, 54, (3, 224, 224), True),
    "vgg11": ModelSize(9228362, 152769536, 9, (3, 32, 32), True),
    "vgg16": ModelSize(14724042, 313201664, 14, (3, 32, 32), True),
    "vgg19": ModelSize(20035018, 398136320, 17, (3, 32, 32), True),
}
MLP_MODELS = ("lenet_300_100", "mlp7", "mlp")  # linear layers only: sizes computed exactly, no Conv2d
RESNET_BASE_WIDTH = 16
IMAGENET_RESNETS = ("resnet18", "resnet34", "resnet50")  # first-stage width 64

# Cost model. Training costs about 3 forward passes (forward, input and weight gradients); every layer adds
# a fixed per-iteration overhead (kernel launches on a GPU, dispatch on a CPU), which dominates small nets.
CPU_MACS_PER_SECOND_PER_THREAD = 5e9
GPU_MACS_PER_SECOND = 5e12
CPU_SECONDS_PER_LAYER = 20e-6
GPU_SECONDS_PER_LAYER = 60e-6
STARTUP_SECONDS = 60.0  # interpreter, torch and Snakemake start, dataset load, final evaluation
SCORING_PASSES = 20  # data-driven scorers: per-example gradients / HVPs, in backward-pass units
SAFETY = 3.0  # requested wall time = SAFETY × estimate, before escalation
MIN_RUNTIME_MINUTES = 5
# Longest wall time requested: the common 48 h limit of GPU partitions, which sbatch refuses to exceed. A run
# that needs longer (90 ImageNet epochs on one GPU) checkpoints every runtime.checkpoint_minutes, is stopped
# at the limit and resumes from train_state.pt when Snakemake resubmits it (profile retries).
MAX_RUNTIME_MINUTES = 48 * 60
PACK_LIMIT_SECONDS = 300.0  # runs estimated below this share allocations (group "pack")
BASE_MEM_MB = 1500  # the job's Python + torch, plus the Snakemake processes around it
MEM_STEP_MB = 256
GPU_THREADS, CPU_THREADS, SMALL_THREADS = 2, 4, 1


@dataclass(frozen=True)
class Request:
    """One job's resource request: Snakemake's threads / mem_mb / runtime (minutes) / gpu, and packing."""

    threads: int
    mem_mb: int
    runtime: int
    gpu: int
    packable: bool
    seconds: float  # the unpadded estimate the request was derived from (for reports and tests)


def _dataset_table(dataset: dict) -> tuple[int, int, tuple[int, int, int]]:
    """(train, test, native shape) of a dataset; an image folder's counts come from its listing (torch)."""
    if dataset["name"] == "image_folder":
        from prunelab.data.stream import split_sizes

        return (*split_sizes(dataset), DATASETS["imagenet"][2])
    return DATASETS[dataset["name"]]


def input_shape(dataset: dict) -> tuple[int, int, int]:
    """(C, H, W) after the dataset spec's ``channels`` / ``size`` overrides."""
    channels, height, width = _dataset_table(dataset)[2]
    if dataset.get("channels"):
        channels = int(dataset["channels"])
    if dataset.get("size"):
        height = width = int(dataset["size"])
    return channels, height, width


def has_conv(model: dict) -> bool:
    """Whether ``model`` has Conv2d layers (every model outside the MLP family; a test checks the zoo), known
    without building it: planning lets conv-less nets share runs that differ only in how convs start."""
    return model["name"] not in MLP_MODELS


def model_size(model: dict, shape: tuple[int, int, int], classes: int = 10) -> ModelSize:
    """Parameters and MACs per example of ``model`` on inputs of ``shape``."""
    name = model["name"]
    if name in MLP_MODELS:
        hidden = {"lenet_300_100": [300, 100], "mlp7": [model.get("width", 100)] * 6}.get(name, model.get("widths"))
        widths = [math.prod(shape), *hidden, classes]
        pairs = list(zip(widths, widths[1:]))
        return ModelSize(sum((i + 1) * o for i, o in pairs), sum(i * o for i, o in pairs), len(pairs), shape, False)
    ref = CONV_MODELS[name]
    scale = (shape[1] * shape[2]) / (ref.reference[1] * ref.reference[2]) if ref.scales_with_area else 1.0
    base = 64 if name in IMAGENET_RESNETS else RESNET_BASE_WIDTH
    width = (model.get("width", base) / base) ** 2 if name.startswith("resnet") else 1.0
    return ModelSize(int(ref.params * width), int(ref.macs * scale * width), ref.layers, shape, ref.scales_with_area)


def dense_spec_of(spec: dict, specs: Mapping[str, dict]) -> dict:
    """The dense ancestor of a run (its dataset and model decide the cost), following ``parents`` links."""
    current = spec
    while current["kind"] != "dense":
        parents = current["parents"]
        link = parents.get("dense") or parents["source"]
        current = specs[link.split("/", 1)[1]]
    return current


def train_test_sizes(dataset: dict) -> tuple[int, int]:
    """(training examples after the validation hold-out, evaluated examples), without loading the data:
    planning counts iterations per epoch from the first, so it needs no torch (bar image folders' listing)."""
    train, test, _ = _dataset_table(dataset)
    return train - int(dataset.get("validation", 0)), test + int(dataset.get("validation", 0))


def _throughput(gpu: bool) -> tuple[float, float]:
    """MACs per second and seconds per layer per pass, on one GPU or one CPU thread."""
    if gpu:
        return GPU_MACS_PER_SECOND, GPU_SECONDS_PER_LAYER
    return CPU_MACS_PER_SECOND_PER_THREAD, CPU_SECONDS_PER_LAYER


def _training_seconds(train: dict, dataset: dict, size: ModelSize, gpu: bool) -> float:
    n_train, n_eval = train_test_sizes(dataset)
    batch = int(train["batch_size"])
    ipe = iterations_per_epoch(n_train, batch)
    iterations = total_iterations(train, ipe)
    rate, per_layer = _throughput(gpu)
    step = 3 * batch * size.macs / rate + 3 * size.layers * per_layer
    evaluations = math.ceil(iterations / ipe) * n_eval * size.macs / rate
    return iterations * step + evaluations


def _scoring_seconds(spec: dict, dataset: dict, size: ModelSize, gpu: bool) -> float:
    n_train, n_eval = train_test_sizes(dataset)
    rate, _ = _throughput(gpu)
    full_eval = (n_train + n_eval) * size.macs / rate
    scoring = spec.get("scoring") or {}
    examples = int(scoring.get("examples", 0))
    return full_eval + spec.get("steps", 1) * examples * SCORING_PASSES * 3 * size.macs / rate


def _memory_mb(dataset: dict, size: ModelSize, batch: int, gpu: bool) -> int:
    n_train, n_eval = train_test_sizes(dataset)
    if dataset["name"] in STREAMED:  # decoded batches in flight and the workers, not the dataset
        data = (
            STREAM_PREFETCH_BATCHES * batch * math.prod(input_shape(dataset))
            + STREAM_WORKERS * STREAM_WORKER_MB * 2**20
        )
    else:
        data = 2 * (n_train + n_eval) * math.prod(input_shape(dataset)) * 4  # raw + standardised float32 copies
    model = 10 * size.params * 4  # weights, grads, momentum, snapshots, checkpoint copies
    activations = 0 if gpu else 4 * batch * size.macs // 40  # CPU keeps the autograd graph in host memory
    return BASE_MEM_MB + (data + model + activations) // 2**20


def ddp_ranks(spec: dict, processes: int) -> int:
    """Processes that train run ``spec`` under ``runtime.processes``: training runs (dense, branch) are
    data-parallel; pruning/scoring and evaluating imported weights always take one."""
    return processes if spec["kind"] != "prune" and not spec.get("checkpoint") else 1


def estimate(spec: dict, dense: dict, *, gpu: bool, attempt: int = 1, processes: int = 1) -> Request:
    """The request for run ``spec`` (``dense`` = its dense ancestor), escalated for retry ``attempt``.

    A training run (dense or branch, not an imported checkpoint) with ``processes`` > 1 is data-parallel
    (runtime.processes, prunelab.training.distributed): it asks for that many GPUs, that many processes' cores and
    memory, and the wall time of its work divided among them. Pruning jobs are always one process.

    Wall time doubles and memory grows by half of the first request with every further attempt, so a job
    killed for TIMEOUT or OUT_OF_MEMORY comes back with room to finish (and resumes from its checkpoint).
    """
    dataset = dense["dataset"]
    size = model_size(dense["model"], input_shape(dataset))
    # compute time on one GPU, or on one CPU thread; runs too big to pack get CPU_THREADS threads
    if spec["kind"] == "prune":
        work = _scoring_seconds(spec, dataset, size, gpu)
        batch = int((spec.get("scoring") or {}).get("batch_size", 100))
    elif spec.get("checkpoint"):  # imported dense weights: one evaluation pass, no training
        work = sum(train_test_sizes(dataset)) * size.macs / _throughput(gpu)[0]
        batch = int(spec["train"]["batch_size"])
    else:
        work = _training_seconds(spec["train"], dataset, size, gpu)
        batch = int(spec["train"]["batch_size"])
    ranks = ddp_ranks(spec, processes)
    work /= ranks
    packable = STARTUP_SECONDS + work <= PACK_LIMIT_SECONDS and ranks == 1
    threads = GPU_THREADS if gpu else (SMALL_THREADS if packable else CPU_THREADS)
    if dataset["name"] in STREAMED:  # the loader workers decode on cores of their own
        threads += STREAM_WORKERS
    seconds = STARTUP_SECONDS + (work if gpu else work / threads)
    growth = max(1, int(attempt))
    minutes = min(MAX_RUNTIME_MINUTES, max(MIN_RUNTIME_MINUTES, math.ceil(SAFETY * seconds / 60)) * 2 ** (growth - 1))
    base_mem = ranks * _memory_mb(dataset, size, -(-batch // ranks), gpu)
    mem = base_mem + (growth - 1) * base_mem // 2
    return Request(
        threads=ranks * threads,
        mem_mb=-(-mem // MEM_STEP_MB) * MEM_STEP_MB,
        runtime=minutes,
        gpu=ranks if gpu else 0,
        packable=packable,
        seconds=seconds,
    )


def group_request(members: list[Request]) -> Request:
    """The request of one job that trains a seed group's ``members`` (``runtime.group_seeds``).

    The members train in lockstep, or one after another where lockstep is slower (conv nets on a CPU), so
    the job is bounded by the sum of their wall times; the K models, their optimizer state and batches are
    held together, so memory is one process's base plus every member's share. Never packed: it already is a
    pack of its own.
    """
    seconds = STARTUP_SECONDS + sum(m.seconds - STARTUP_SECONDS for m in members)
    mem = BASE_MEM_MB + sum(m.mem_mb - BASE_MEM_MB for m in members)
    return Request(
        threads=max(m.threads for m in members),
        mem_mb=-(-mem // MEM_STEP_MB) * MEM_STEP_MB,
        runtime=min(MAX_RUNTIME_MINUTES, sum(m.runtime for m in members)),
        gpu=max(m.gpu for m in members),
        packable=False,
        seconds=seconds,
    )


def wants_gpu(device: str, on_cluster: bool) -> bool:
    """Whether run jobs request a GPU: always for ``runtime.device: cuda``, on a cluster for ``auto``."""
    return device == "cuda" or (device == "auto" and on_cluster)
