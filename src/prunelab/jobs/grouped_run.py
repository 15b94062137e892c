"""The grouped dense job: train a seed group's runs together, write each into its own run directory.

Each member ends up with exactly the files of a single ``train`` job (``model.pt``, ``snapshots.pt``,
``metrics.json``, ``spec.json``, ``provenance.json`` last, ``logs/train.log``), and its provenance records
``grouped: {group, k, members, mode}``. Members that are already complete (their ``provenance.json`` names
their hash and every output it lists exists) are reused, not retrained: a run is a function of its spec, so
growing a group from seeds [0, 1] to [0, 1, 2] trains seed 2 only, and turning grouping on over finished
runs trains nothing. The group's marker ``results/groups/{hash}/group.json`` is written after every
member's provenance and is the only file Snakemake tracks for the group.

The members still to train are trained in lockstep by :class:`~prunelab.training.stacked.GroupedTrainer` when there
are at least two, their training settings allow it (SGD, no channels_last) and it is faster on the device
(not for convolutional nets on a CPU); otherwise each is trained by the single-run job, whose provenance is
then that of an ordinary run. The group marker records which (``mode``) and why (``reason``). Either way
``on_divergence: record`` records a diverged member as a single run would and the others finish.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path

from prunelab.data.tensors import load_dataset
from prunelab.errors import ConfigError, DivergenceError
from prunelab.jobs import kinds as jobs
from prunelab.jobs.runtime import Runtime
from prunelab.models import build_model
from prunelab.plan.seed_groups import group_hash, without_seed
from prunelab.records import layout, provenance
from prunelab.records.run_specs import DenseSpec
from prunelab.records.storage import sha256_file, write_json
from prunelab.training.stacked import GroupedTrainer, slower_than_sequential, unsupported


def is_complete(directory: Path, run_hash: str) -> bool:
    """A finished run: its provenance names ``run_hash`` and every output it lists is present."""
    try:
        record = json.loads((directory / layout.PROVENANCE).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return False
    return record.get("hash") == run_hash and all((directory / name).is_file() for name in record.get("outputs", {}))


def _check_group(specs: list[DenseSpec], directory: Path) -> list[str]:
    hashes = [s.hash for s in specs]
    if len({without_seed(s.to_dict()) for s in specs}) != 1:
        raise ConfigError(f"{directory}: the specs of a seed group may differ only in 'seed'")
    if directory.name != group_hash(hashes):
        raise ConfigError(
            f"{directory}: the member specs hash to group {group_hash(hashes)}, not to the directory name"
        )
    return hashes


def _member_logs(directories: dict[str, Path], log: Callable[[str], None]) -> Callable[[str], None]:
    """Log to the group log, and each ``[run hash] ...`` line also to that member's ``logs/train.log``."""

    def route(line: str) -> None:
        log(line)
        label = line[1 : line.find("]")] if line.startswith("[") else ""
        if label in directories:
            path = directories[label] / layout.LOGS / "train.log"
            path.parent.mkdir(parents=True, exist_ok=True)
            with open(path, "a", encoding="utf-8") as handle:
                handle.write(line + "\n")

    return route


def run_dense_group(
    specs_json: list[dict], directory: str | Path, rt: Runtime, log: Callable[[str], None] = jobs.log
) -> None:
    """Train the not-yet-complete members of the seed group ``specs_json``, then write the group marker."""
    started = provenance.now()
    directory = Path(directory)
    if not specs_json:
        raise ConfigError(f"{directory}: a seed group is a non-empty list of dense specs")
    specs = [DenseSpec.from_dict(s, f"{directory}: --specs[{i}]") for i, s in enumerate(specs_json)]
    hashes = _check_group(specs, directory)
    dirs = {h: layout.run_dir(rt.results, "dense", h) for h in hashes}
    pending = [(h, s) for h, s in zip(hashes, specs) if not is_complete(dirs[h], h)]
    reason = unsupported(specs[0].train)
    if len(pending) >= 2 and reason is None:
        reason = _train_together(pending, dirs, directory, rt, _member_logs(dirs, log))
    mode = "vmap" if len(pending) >= 2 and reason is None else "separate" if pending else "reused"
    if mode == "separate":
        if len(pending) >= 2:
            log(f"[group {directory.name}] training {len(pending)} runs one by one: {reason}")
        for h, spec in pending:
            jobs.run_dense(spec.to_dict(), dirs[h], rt, _member_logs(dirs, log))
    trained = {h for h, _ in pending}
    write_json(
        directory / layout.GROUP_MARKER,
        {
            "group": directory.name,
            "mode": mode,
            "k": len(pending),
            "reason": reason if pending else None,
            "members": [
                {"run": h, "trained": h in trained, "provenance_sha256": sha256_file(dirs[h] / layout.PROVENANCE)}
                for h in hashes
            ],
            "started": started,
            "finished": provenance.now(),
        },
    )


def _train_together(
    pending: list[tuple[str, DenseSpec]],
    dirs: dict[str, Path],
    directory: Path,
    rt: Runtime,
    log: Callable[[str], None],
) -> str | None:
    """Train ``pending`` in lockstep, or return why that would be slower (before writing anything)."""
    started = provenance.now()
    device = rt.configure()
    members = [h for h, _ in pending]
    first = pending[0][1]
    data = load_dataset(first.dataset, rt.data_root, device)
    models = [
        build_model(spec.model, data.input_shape, data.num_classes, seed=spec.seed.init).to(device)
        for _, spec in pending
    ]
    slower = slower_than_sequential(models[0], device)
    if slower:
        return slower
    if rt.compile:
        log(f"[group {directory.name}] runtime.compile applies to single runs; the group trains eagerly")
    grouped = {"group": directory.name, "k": len(pending), "members": members, "mode": "vmap"}
    with ExitStack() as stack:
        outputs = [stack.enter_context(jobs.run_job(spec, dirs[h], device)) for h, spec in pending]
        state = directory / layout.TRAIN_STATE
        trainer = GroupedTrainer(
            models,
            data,
            first.train,
            data_seeds=[s.seed.data for _, s in pending],
            labels=members,
            save_at=first.save_at,
            state_path=state,
            checkpoint_every=rt.checkpoint_every,
            checkpoint_seconds=60 * rt.checkpoint_minutes,
            on_divergence=rt.on_divergence,
            log=log,
        )
        results = trainer.run()
        for k, ((h, spec), out, model, result) in enumerate(zip(pending, outputs, models, results)):
            if isinstance(result, DivergenceError):  # on_divergence: record, as the single-run job does
                jobs.record_divergence(
                    out,
                    spec,
                    result,
                    trainer.last_good[k],
                    dirs[h],
                    started,
                    {},
                    spec.seed.to_dict(),
                    extra_files={layout.SNAPSHOTS: {}},
                )
            else:
                jobs.finish_dense(out, spec, model, data, result, started, extra={"grouped": grouped})
    if state.exists() and not rt.keep_train_state:
        state.unlink()
    return None
