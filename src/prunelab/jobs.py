"""The three kinds of run job (dense, prune, branch): read parents, compute, write outputs, provenance last.

Each job gets its fully-resolved spec and its run directory ``results/runs/{kind}/{hash}``; it refuses to
run if the spec does not hash to the directory name. Outputs are written atomically; if the job fails, every
output it already wrote is removed again, so nothing half-done is left for Snakemake or ``prunelab audit``
to trust. ``provenance.json`` is written last and is the mark of a complete run.
"""

from __future__ import annotations

import sys
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator

import torch

from prunelab import provenance
from prunelab.branches import branch_start
from prunelab.data import TensorData, load_dataset
from prunelab.errors import CheckpointError, ConfigError
from prunelab.runtime import Runtime
from prunelab.masks import Mask
from prunelab.metrics.flops import count as count_flops
from prunelab.models import build_model
from prunelab.pruning import get_method
from prunelab.pruning.schedule import run_method, scoring_batches
from prunelab.schedules import iterations_per_epoch, to_iteration
from prunelab.spec import parent_dirs, spec_hash
from prunelab.storage import load_json, load_tensors, save_tensors, write_json
from prunelab.train import Trainer, TrainOutcome, evaluate

TRAIN_STATE = "train_state.pt"


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


class Outputs:
    """Tracks the files a job writes so a failure can take them all back."""

    def __init__(self, directory: Path):
        self.directory = directory
        self.files: dict[str, Path] = {}

    def path(self, name: str) -> Path:
        self.files[name] = self.directory / name
        return self.files[name]

    def rollback(self) -> None:
        for path in list(self.files.values()) + [self.directory / provenance.FILENAME]:
            if path.exists():
                path.unlink()


@contextmanager
def run_job(spec: dict, directory: str | Path, kind: str) -> Iterator[Outputs]:
    directory = Path(directory)
    if spec.get("kind") != kind:
        raise ConfigError(f"{directory}: spec kind {spec.get('kind')!r} given to the {kind} job")
    expected = spec_hash(spec)
    if directory.name != expected:
        raise ConfigError(f"{directory}: spec hashes to {expected}, not to the directory name")
    directory.mkdir(parents=True, exist_ok=True)
    outputs = Outputs(directory)
    try:
        yield outputs
    except BaseException:
        outputs.rollback()
        raise


def _finish(outputs: Outputs, spec: dict, metrics: dict, started: str, parents: dict, seeds: dict,
            extra: dict | None = None) -> None:
    write_json(outputs.path("metrics.json"), metrics)
    write_json(outputs.path("spec.json"), spec)
    record = provenance.build({name: path for name, path in outputs.files.items()}, spec=spec, parents=parents,
                              seeds=seeds, started=started, relative_to=outputs.directory,
                              extra={"data_fingerprint": metrics.get("data_fingerprint"), **(extra or {})})
    provenance.write(outputs.directory / provenance.FILENAME, record)


def _dense_of(spec: dict, results: Path) -> tuple[dict, Path]:
    current, directory = spec, None
    while current["kind"] != "dense":
        dirs = parent_dirs(current, results)
        directory = dirs["dense"] if "dense" in dirs else dirs["source"]
        current = load_json(directory / "spec.json", producer=directory.parent.name)
    return current, directory


def _model_and_data(dense_spec: dict, rt: Runtime, device: torch.device) -> tuple[torch.nn.Module, TensorData]:
    data = load_dataset(dense_spec["dataset"], rt.data_root, device)
    model = build_model(dense_spec["model"], data.input_shape, data.num_classes,
                        seed=dense_spec["seed"]["init"]).to(device)
    return model, data


def _full_eval(model: torch.nn.Module, data: TensorData) -> dict:
    out = {}
    for split, (x, y) in {"train": (data.train_x, data.train_y), "val": (data.val_x, data.val_y),
                          "test": (data.test_x, data.test_y)}.items():
        res = evaluate(model, x, y)
        out[f"{split}_loss"], out[f"{split}_acc"] = res["loss"], res["acc"]
    return out


# -- dense -------------------------------------------------------------------------------------------
def run_dense(spec: dict, directory: str | Path, rt: Runtime, log: Callable[[str], None] = log) -> None:
    started = provenance.now()
    device = rt.configure()
    with run_job(spec, directory, "dense") as outputs:
        model, data = _model_and_data(spec, rt, device)
        label = Path(directory).name
        trainer = Trainer(model, data, spec["train"], data_seed=spec["seed"]["data"], label=label,
                          save_at=spec["train"].get("save_at", []), state_path=Path(directory) / TRAIN_STATE,
                          checkpoint_every=rt.checkpoint_every, log=log, compile=rt.compile)
        result = trainer.run()
        finish_dense(outputs, spec, model, data, result, started)
    _drop_train_state(directory, rt)


def finish_dense(outputs: Outputs, spec: dict, model: torch.nn.Module, data: TensorData, result: TrainOutcome,
                 started: str, extra: dict | None = None) -> None:
    """A dense run's outputs, provenance last; shared by the single-run and the grouped job."""
    save_tensors(outputs.path("model.pt"), {k: v.cpu() for k, v in model.state_dict().items()})
    save_tensors(outputs.path("snapshots.pt"), result.snapshots)
    metrics = {"status": "ok", "final": result.final, "best": result.best, "history": result.history,
               "iterations": result.iterations, "epochs": result.epochs,
               "flops": count_flops(model, data.input_shape), "data_fingerprint": data.fingerprint}
    _finish(outputs, spec, metrics, started, {}, dict(spec["seed"]), extra)


def _drop_train_state(directory: str | Path, rt: Runtime) -> None:
    state = Path(directory) / TRAIN_STATE
    if state.exists() and not rt.keep_train_state:
        state.unlink()


# -- prune -------------------------------------------------------------------------------------------
def load_source(spec: dict, rt: Runtime, data: TensorData) -> tuple[dict, Mask | None]:
    """The weights a prune run scores (and the mask they already carry, for a branch source)."""
    source = parent_dirs(spec, rt.results)["source"]
    kind = source.parent.name
    if kind == "branch":
        return (load_tensors(source / "model.pt", producer="branch"),
                Mask.load(source / "mask.pt", producer="branch"))
    if spec["at"] == "final":
        return load_tensors(source / "model.pt", producer="train"), None
    dense_spec = load_json(source / "spec.json", producer="train")
    ipe = iterations_per_epoch(len(data.train_y), int(dense_spec["train"]["batch_size"]))
    k = to_iteration(spec["at"], ipe, "pruning.at")
    snapshots = load_tensors(source / "snapshots.pt", producer="train")
    if k not in snapshots:
        raise CheckpointError(f"pruning at '{spec['at']}' (iteration {k}) needs a dense checkpoint that "
                              f"{source} did not save; add it to the dense config's train.save_at")
    return snapshots[k]["model"], None


def run_prune(spec: dict, directory: str | Path, rt: Runtime, log: Callable[[str], None] = log) -> None:
    started = provenance.now()
    device = rt.configure()
    with run_job(spec, directory, "prune") as outputs:
        dense_spec, _ = _dense_of(spec, rt.results)
        model, data = _model_and_data(dense_spec, rt, device)
        state, previous = load_source(spec, rt, data)
        model.load_state_dict(state)
        method = get_method(spec["method"])
        batches = None
        if method.needs_data:
            scoring = spec["scoring"]
            batches = scoring_batches(data, scoring["examples"], scoring["batch_size"], scoring["seed"])
        log(f"[{Path(directory).name}] {spec['method']} to sparsity {spec['sparsity']} in {spec['steps']} step(s)")
        outcome = run_method(model, spec["method"], spec["hparams"], spec["sparsity"], scope=spec["scope"],
                             steps=spec["steps"], schedule=spec["step_schedule"], previous=previous,
                             exclude=spec["exclude"], data=data, batches=batches, seed=spec["seed"],
                             at_init=spec["at"] == "0it")
        outcome.mask.save(outputs.path("mask.pt"))
        if outcome.updated:
            save_tensors(outputs.path("model.pt"), {k: v.cpu() for k, v in outcome.model.state_dict().items()})
        metrics = {"status": "ok", "method": spec["method"], "sparsity": outcome.mask.report(),
                   "steps": outcome.steps, "updated_weights": outcome.updated,
                   "pruned": _full_eval(outcome.model, data),
                   "flops": count_flops(outcome.model, data.input_shape, outcome.mask),
                   "data_fingerprint": data.fingerprint}
        log(f"[{Path(directory).name}] sparsity {outcome.mask.sparsity:.4f}, test_acc right after pruning "
            f"{metrics['pruned']['test_acc']:.2f}")
        seeds = {"prune": spec["seed"], **({"scoring": spec["scoring"]["seed"]} if spec.get("scoring") else {})}
        _finish(outputs, spec, metrics, started, parent_dirs(spec, rt.results), seeds)


def pruned_state(prune_dir: Path, rt: Runtime, data: TensorData, mask: Mask) -> dict:
    """θ ⊙ m the mask was chosen on: the prune run's own weights if it updated them, else its source's."""
    if (prune_dir / "model.pt").exists():
        return load_tensors(prune_dir / "model.pt", producer="prune")
    state, _ = load_source(load_json(prune_dir / "spec.json", producer="prune"), rt, data)
    return {k: (v * mask[k].to(v.dtype) if k in mask else v) for k, v in state.items()}


# -- branch ------------------------------------------------------------------------------------------
def run_branch(spec: dict, directory: str | Path, rt: Runtime, log: Callable[[str], None] = log) -> None:
    started = provenance.now()
    device = rt.configure()
    with run_job(spec, directory, "branch") as outputs:
        dirs = parent_dirs(spec, rt.results)
        dense_spec = load_json(dirs["dense"] / "spec.json", producer="train")
        model, data = _model_and_data(dense_spec, rt, device)
        mask = Mask.load(dirs["prune"] / "mask.pt")
        mask.check_matches(model, str(dirs["prune"] / "mask.pt"))
        needs_snapshots = spec["type"] in ("rewind_weights", "lottery")
        snapshots = load_tensors(dirs["dense"] / "snapshots.pt", producer="train") if needs_snapshots else None
        start = branch_start(spec, dense_spec, data, mask, pruned_state(dirs["prune"], rt, data, mask), snapshots)
        model.load_state_dict(start.state)
        trainer = Trainer(model, data, start.train, data_seed=spec["seed"]["data"], label=Path(directory).name,
                          mask=mask, start_iteration=start.start_iteration, optimizer_state=start.optimizer_state,
                          state_path=Path(directory) / TRAIN_STATE, checkpoint_every=rt.checkpoint_every, log=log,
                          compile=rt.compile)
        result = trainer.run()
        save_tensors(outputs.path("model.pt"), {k: v.cpu() for k, v in model.state_dict().items()})
        mask.save(outputs.path("mask.pt"))
        metrics = {"status": "ok", "type": spec["type"], "final": result.final, "best": result.best,
                   "history": result.history, "iterations": result.iterations, "epochs": result.epochs,
                   "start_iteration": start.start_iteration, "notes": start.notes, "sparsity": mask.report(),
                   "flops": count_flops(model, data.input_shape, mask), "data_fingerprint": data.fingerprint}
        _finish(outputs, spec, metrics, started, dirs, dict(spec["seed"]))
    _drop_train_state(directory, rt)
