"""The three kinds of run job (dense, prune, branch): read parents, compute, write outputs, provenance last.

Each job gets its fully-resolved spec (JSON, parsed once into its typed form, :mod:`prunelab.records.run_specs`) and
its run directory ``results/runs/{kind}/{hash}``; it refuses to run if the spec does not hash to the
directory name. Outputs are written atomically; if the job fails, every
output it already wrote is removed again, so nothing half-done is left for Snakemake or ``prunelab audit``
to trust. ``provenance.json`` is written last and is the mark of a complete run.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import torch

from prunelab.branch_types import get_branch_type
from prunelab.branch_types.starts import branch_start, restore_isometry
from prunelab.data.tensors import TensorData, load_dataset
from prunelab.errors import CheckpointError, ConfigError, DivergenceError
from prunelab.jobs.imported import load_into
from prunelab.jobs.runtime import Runtime
from prunelab.metrics.flops import count as count_flops
from prunelab.metrics.jsv import measure as measure_jsv
from prunelab.models import build_model
from prunelab.progress import Progress, reporting
from prunelab.pruning.multistep import ScoringDraws, run_method, scoring_batches
from prunelab.records import layout, provenance
from prunelab.records.run_specs import BranchSpec, DenseSpec, PruneSpec, RunSpec, parse
from prunelab.records.storage import TEMP_PREFIX, load_json, load_tensors, save_tensors, write_json
from prunelab.training import distributed
from prunelab.training.loop import TrainOutcome
from prunelab.training.masks import Mask, prunable_parameters
from prunelab.training.schedules import BEST, iterations_per_epoch, to_iteration
from prunelab.training.single_model import Trainer, evaluate


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


class Outputs:
    """Tracks the files a job writes so a failure can take them all back."""

    def __init__(self, directory: Path, device: torch.device):
        self.directory = directory
        self.device = device
        self.files: dict[str, Path] = {}

    def path(self, name: str) -> Path:
        self.files[name] = self.directory / name
        return self.files[name]

    def rollback(self) -> None:
        for path in list(self.files.values()) + [self.directory / layout.PROVENANCE]:
            if path.exists():
                path.unlink()


@contextmanager
def run_job(spec: RunSpec, directory: str | Path, device: torch.device) -> Iterator[Outputs]:
    directory = Path(directory)
    expected = spec.hash
    if directory.name != expected:
        raise ConfigError(f"{directory}: spec hashes to {expected}, not to the directory name")
    directory.mkdir(parents=True, exist_ok=True)
    for stale in directory.glob(TEMP_PREFIX + "*"):  # left by a job killed while writing
        stale.unlink()
    outputs = Outputs(directory, device)
    try:
        yield outputs
    except BaseException:
        outputs.rollback()
        raise


def _finish(
    outputs: Outputs, spec: RunSpec, metrics: dict, started: str, parents: dict, seeds: dict, extra: dict | None = None
) -> None:
    write_json(outputs.path(layout.METRICS), metrics)
    write_json(outputs.path(layout.SPEC), spec.to_dict())
    record = provenance.build(
        {name: path for name, path in outputs.files.items()},
        spec=spec.to_dict(),
        parents=parents,
        seeds=seeds,
        started=started,
        relative_to=outputs.directory,
        extra={
            "data_fingerprint": metrics.get("data_fingerprint"),
            "device": str(outputs.device),
            "processes": distributed.current().size,
            **(extra or {}),
        },
    )
    provenance.write(outputs.directory / layout.PROVENANCE, record)


def _dense_of(spec: RunSpec, results: Path) -> DenseSpec:
    """The dense run at the root of ``spec``'s lineage (through the sources of an iterative chain)."""
    current = spec
    while not isinstance(current, DenseSpec):
        dirs = current.parent_dirs(results)
        directory = dirs["dense"] if "dense" in dirs else dirs["source"]
        current = _parent_spec(directory)
    return current


def _parent_spec(directory: Path) -> RunSpec:
    return parse(load_json(directory / layout.SPEC, producer=directory.parent.name), str(directory / layout.SPEC))


def _model_and_data(dense_spec: DenseSpec, rt: Runtime, device: torch.device) -> tuple[torch.nn.Module, TensorData]:
    data = load_dataset(dense_spec.dataset, rt.data_root, device, workers=rt.loader_workers)
    model = build_model(dense_spec.model, data.input_shape, data.num_classes, seed=dense_spec.seed.init).to(device)
    return model, data


def _full_eval(model: torch.nn.Module, data: TensorData) -> dict:
    out = {}
    for split, (x, y) in {
        "train": (data.train_x, data.train_y),
        "val": (data.val_x, data.val_y),
        "test": (data.test_x, data.test_y),
    }.items():
        res = evaluate(model, x, y)
        out[f"{split}_loss"], out[f"{split}_acc"] = res["loss"], res["acc"]
    return out


NAN_EVAL = {f"{split}_{m}": float("nan") for split in ("train", "val", "test") for m in ("loss", "acc")}


def record_divergence(
    outputs: Outputs,
    spec: RunSpec,
    exc: DivergenceError,
    fallback_state: dict,
    directory: Path,
    started: str,
    parents: dict,
    seeds: dict,
    extra_files: dict | None = None,
) -> None:
    """``on_divergence: record``: outputs marked diverged, holding the last good weights (resume state if any);
    shared by the single-run and the grouped job."""
    state_file = directory / layout.TRAIN_STATE
    state = load_tensors(state_file)["model"] if state_file.exists() else fallback_state
    save_tensors(outputs.path(layout.MODEL), state)
    for name, content in (extra_files or {}).items():
        save_tensors(outputs.path(name), content)
    row = {"epoch": exc.epoch, "iteration": exc.iteration, "lr": float("nan"), **NAN_EVAL}
    metrics = {
        "status": "diverged",
        "error": str(exc),
        "final": row,
        "best": row,
        "history": [],
        "epochs": 0.0,
        "iterations": exc.iteration,
    }
    _finish(outputs, spec, metrics, started, parents, seeds)
    log(f"prunelab: {exc} (recorded as diverged; its descendants will be skipped)")


def _unusable_parent(dirs: dict[str, Path]) -> str | None:
    """The first parent whose metrics say it did not finish normally (diverged or itself skipped)."""
    for role, directory in dirs.items():
        status = load_json(directory / layout.METRICS, producer=directory.parent.name).get("status", "ok")
        if status != "ok":
            return f"{role} {directory.parent.name}/{directory.name} is {status}"
    return None


def _record_skip(
    outputs: Outputs,
    spec: RunSpec,
    reason: str,
    model: torch.nn.Module,
    mask: Mask,
    started: str,
    parents: dict,
    seeds: dict,
    files: tuple[str, ...],
) -> None:
    """Outputs of a run whose parent is unusable: placeholders marked ``skipped`` so tables show a gap."""
    if layout.MODEL in files:
        save_tensors(outputs.path(layout.MODEL), {k: v.cpu() for k, v in model.state_dict().items()})
    mask.save(outputs.path(layout.MASK))
    row = {"epoch": 0, "iteration": 0, "lr": float("nan"), **NAN_EVAL}
    metrics = {
        "status": "skipped",
        "error": reason,
        "final": row,
        "best": row,
        "pruned": NAN_EVAL,
        "history": [],
        "epochs": 0.0,
        "sparsity": mask.report(),
    }
    _finish(outputs, spec, metrics, started, parents, seeds)
    log(f"[{outputs.directory.name}] skipped: {reason}")


# -- dense -------------------------------------------------------------------------------------------
def run_dense(spec_json: dict, directory: str | Path, rt: Runtime, log: Callable[[str], None] = log) -> None:
    started = provenance.now()
    spec = DenseSpec.from_dict(spec_json, f"{directory}: --spec")
    device = rt.configure()
    with run_job(spec, directory, device) as outputs:
        model, data = _model_and_data(spec, rt, device)
        label = Path(directory).name
        imported = spec.checkpoint
        if imported:  # released weights: evaluated by the same loop, zero iterations
            load_into(model, imported)
        trainer = Trainer(
            model,
            data,
            spec.train,
            data_seed=spec.seed.data,
            label=label,
            end_iteration=0 if imported else None,
            save_at=spec.save_at,
            state_path=Path(directory) / layout.TRAIN_STATE,
            checkpoint_every=rt.checkpoint_every,
            checkpoint_seconds=60 * rt.checkpoint_minutes,
            log=log,
            compile=rt.compile,
        )
        initial = {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}
        try:
            result = trainer.run()
        except DivergenceError as exc:
            if rt.on_divergence != "record":
                raise
            if trainer.world.writer:
                record_divergence(
                    outputs,
                    spec,
                    exc,
                    initial,
                    Path(directory),
                    started,
                    {},
                    spec.seed.to_dict(),
                    extra_files={layout.SNAPSHOTS: {}},
                )
            return
        if not trainer.world.writer:  # a DDP rank other than 0: rank 0 holds the same weights and writes
            return
        finish_dense(
            outputs, spec, model, data, result, started, extra={"imported_checkpoint": imported} if imported else None
        )
    _drop_train_state(directory, rt)


def finish_dense(
    outputs: Outputs,
    spec: DenseSpec,
    model: torch.nn.Module,
    data: TensorData,
    result: TrainOutcome,
    started: str,
    extra: dict | None = None,
) -> None:
    """A dense run's outputs, provenance last; shared by the single-run and the grouped job."""
    save_tensors(outputs.path(layout.MODEL), {k: v.cpu() for k, v in model.state_dict().items()})
    save_tensors(outputs.path(layout.SNAPSHOTS), result.snapshots)
    metrics = {
        "status": "ok",
        "final": result.final,
        "best": result.best,
        "history": result.history,
        "iterations": result.iterations,
        "epochs": result.epochs,
        "flops": count_flops(model, data.input_shape),
        "data_fingerprint": data.fingerprint,
    }
    _finish(outputs, spec, metrics, started, {}, spec.seed.to_dict(), extra)


def _drop_train_state(directory: str | Path, rt: Runtime) -> None:
    state = Path(directory) / layout.TRAIN_STATE
    if state.exists() and not rt.keep_train_state:
        state.unlink()


# -- prune -------------------------------------------------------------------------------------------
def load_source(spec: PruneSpec, rt: Runtime, data: TensorData) -> tuple[dict, Mask | None]:
    """The weights a prune run scores (and the mask they already carry, for a branch source)."""
    source = spec.parent_dirs(rt.results)["source"]
    kind = source.parent.name
    if kind == "branch":
        return (
            load_tensors(source / layout.MODEL, producer="branch"),
            Mask.load(source / layout.MASK, producer="branch"),
        )
    if spec.at == "final":
        return load_tensors(source / layout.MODEL, producer="train"), None
    k: int | str = BEST  # the best-validation epoch's weights, kept by a dense run that saves `best`
    if spec.at != BEST:
        dense_spec = DenseSpec.from_dict(load_json(source / layout.SPEC, producer="train"), str(source / layout.SPEC))
        ipe = iterations_per_epoch(len(data.train_y), int(dense_spec.train["batch_size"]))
        k = to_iteration(spec.at, ipe, "pruning.at")
    snapshots = load_tensors(source / layout.SNAPSHOTS, producer="train")
    if k not in snapshots:
        raise CheckpointError(
            f"pruning at '{spec.at}' needs a dense checkpoint that {source} did not save; "
            "add it to the dense config's train.save_at"
        )
    return snapshots[k]["model"], None


def run_prune(spec_json: dict, directory: str | Path, rt: Runtime, log: Callable[[str], None] = log) -> None:
    started = provenance.now()
    spec = PruneSpec.from_dict(spec_json, f"{directory}: --spec")
    device = rt.configure()
    with run_job(spec, directory, device) as outputs:
        model, data = _model_and_data(_dense_of(spec, rt.results), rt, device)
        parents = spec.parent_dirs(rt.results)
        reason = _unusable_parent(parents)
        if reason:
            ones = Mask.ones_like(prunable_parameters(model, spec.exclude))
            _record_skip(outputs, spec, reason, model, ones, started, parents, spec.seeds, ())
            return
        state, previous = load_source(spec, rt, data)
        model.load_state_dict(state)
        # only methods that score on batches carry `scoring` (see Method.data_source); each step draws its own
        draws = ScoringDraws.from_spec(data, spec.scoring, f"{directory}: --spec scoring") if spec.scoring else None
        log(f"[{Path(directory).name}] {spec.method} to sparsity {spec.sparsity} in {spec.steps} step(s)")
        with reporting(Progress(Path(directory).name, log)):  # pruning and curvature loops tick it
            outcome = run_method(
                model,
                spec.method,
                spec.hparams,
                spec.sparsity,
                scope=spec.scope,
                steps=spec.steps,
                schedule=spec.step_schedule,
                previous=previous,
                exclude=spec.exclude,
                data=data,
                batches=draws,
                seed=spec.seed,
                at_init=spec.at == "0it",
            )
        for entry in outcome.steps if draws else ():  # the subset each step scored on, for the record
            entry["scoring_seed"] = draws.seed_of(entry["step"])
        outcome.mask.save(outputs.path(layout.MASK))
        if outcome.updated:
            save_tensors(outputs.path(layout.MODEL), {k: v.cpu() for k, v in outcome.model.state_dict().items()})
        jsv = _jsv_batches(spec.jsv, data)
        measured = measure_jsv(outcome.model, jsv) if jsv else None
        metrics = {
            "status": "ok",
            "method": spec.method,
            "sparsity": outcome.mask.report(),
            "jsv": measured,
            "steps": outcome.steps,
            "updated_weights": outcome.updated,
            "pruned": _full_eval(outcome.model, data),
            "flops": count_flops(outcome.model, data.input_shape, outcome.mask),
            "data_fingerprint": data.fingerprint,
        }
        log(
            f"[{Path(directory).name}] sparsity {outcome.mask.sparsity:.4f}, test_acc right after pruning "
            f"{metrics['pruned']['test_acc']:.2f}"
        )
        _finish(outputs, spec, metrics, started, parents, spec.seeds)


def _jsv_batches(jsv: dict | None, data: TensorData) -> list | None:
    """The batches a prune spec's ``jsv`` block names (None if it measures none). A branch's JSV after isometry
    recovery uses its prune run's, so the two summaries compare on the same images."""
    return scoring_batches(data, jsv["batches"] * jsv["batch_size"], jsv["batch_size"], jsv["seed"]) if jsv else None


def _prune_spec(prune_dir: Path) -> PruneSpec:
    return PruneSpec.from_dict(load_json(prune_dir / layout.SPEC, producer="prune"), str(prune_dir / layout.SPEC))


def pruned_state(prune_dir: Path, rt: Runtime, data: TensorData, mask: Mask) -> dict:
    """θ ⊙ m the mask was chosen on: the prune run's own weights if it updated them, else its source's."""
    if (prune_dir / layout.MODEL).exists():
        return load_tensors(prune_dir / layout.MODEL, producer="prune")
    state, _ = load_source(_prune_spec(prune_dir), rt, data)
    return mask.applied(state)


# -- branch ------------------------------------------------------------------------------------------
def run_branch(spec_json: dict, directory: str | Path, rt: Runtime, log: Callable[[str], None] = log) -> None:
    started = provenance.now()
    spec = BranchSpec.from_dict(spec_json, f"{directory}: --spec")
    device = rt.configure()
    with run_job(spec, directory, device) as outputs:
        dirs = spec.parent_dirs(rt.results)
        dense_spec = DenseSpec.from_dict(
            load_json(dirs["dense"] / layout.SPEC, producer="train"), str(dirs["dense"] / layout.SPEC)
        )
        model, data = _model_and_data(dense_spec, rt, device)
        mask = Mask.load(dirs["prune"] / layout.MASK)
        mask.check_matches(model, str(dirs["prune"] / layout.MASK))
        reason = _unusable_parent(dirs)
        if reason:
            _record_skip(outputs, spec, reason, model, mask, started, dirs, spec.seed.to_dict(), (layout.MODEL,))
            return
        needs_snapshots = get_branch_type(spec.type).from_snapshot
        snapshots = load_tensors(dirs["dense"] / layout.SNAPSHOTS, producer="train") if needs_snapshots else None
        start = branch_start(
            spec.to_dict(), dense_spec.to_dict(), data, mask, pruned_state(dirs["prune"], rt, data, mask), snapshots
        )
        model.load_state_dict(start.state)
        source = f" of {dirs['dense'] / layout.SNAPSHOTS}" if needs_snapshots else ""
        log(f"[{Path(directory).name}] {spec.type} starts from {start.origin}{source}")
        if spec.isometry:
            start.notes["isometry"] = restore_isometry(
                model, mask, spec.isometry, dense_spec.model, _jsv_batches(_prune_spec(dirs["prune"]).jsv, data)
            )
        trainer = Trainer(
            model,
            data,
            start.train,
            data_seed=spec.seed.data,
            label=Path(directory).name,
            mask=mask,
            start_iteration=start.start_iteration,
            optimizer_state=start.optimizer_state,
            state_path=Path(directory) / layout.TRAIN_STATE,
            checkpoint_every=rt.checkpoint_every,
            checkpoint_seconds=60 * rt.checkpoint_minutes,
            log=log,
            compile=rt.compile,
        )
        try:
            result = trainer.run()
        except DivergenceError as exc:
            if rt.on_divergence != "record":
                raise
            if trainer.world.writer:
                mask.save(outputs.path(layout.MASK))
                record_divergence(outputs, spec, exc, start.state, Path(directory), started, dirs, spec.seed.to_dict())
            return
        if not trainer.world.writer:  # a DDP rank other than 0: rank 0 holds the same weights and writes
            return
        save_tensors(outputs.path(layout.MODEL), {k: v.cpu() for k, v in model.state_dict().items()})
        mask.save(outputs.path(layout.MASK))
        metrics = {
            "status": "ok",
            "type": spec.type,
            "final": result.final,
            "best": result.best,
            "history": result.history,
            "iterations": result.iterations,
            "epochs": result.epochs,
            "start_iteration": start.start_iteration,
            "notes": start.notes,
            "sparsity": mask.report(),
            "flops": count_flops(model, data.input_shape, mask),
            "data_fingerprint": data.fingerprint,
        }
        _finish(outputs, spec, metrics, started, dirs, spec.seed.to_dict())
    _drop_train_state(directory, rt)
