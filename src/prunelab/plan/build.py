"""Expand a validated suite config into run specs (the DAG) and per-experiment table manifests.

The config names reusable pieces (``dense`` trainings, ``pruning`` settings, ``branches``) and
``experiments`` that combine them:

* one-shot: every dense run × pruning setting × sparsity, then every branch after each mask;
* iterative (IMP-style): level L prunes the level L−1 branch's weights to 1 − (1−rate)^L among its
  survivors, then runs the branch; level L's specs chain to level L−1's hash, so adding a level reuses all
  earlier ones.

Every spec is fully resolved (defaults included) and child specs carry their parents' hashes, so a
change anywhere renames exactly the runs it affects and their descendants. All semantic checks that need
more than the schema (references between sections, rewind points the dense run must save, method
hyperparameters) happen here, before any job runs, and fail with one line naming the config key.
"""

from __future__ import annotations

import copy
import json
import re

from prunelab.branch_types import branch_types, get_branch_type
from prunelab.errors import ConfigError
from prunelab.plan.checkpoint_hash import checkpoint_spec
from prunelab.plan.resources import has_conv, train_test_sizes
from prunelab.pruning import get_method, resolve_hparams
from prunelab.records.run_plan import Plan
from prunelab.records.run_specs import BranchSpec, DenseSpec, PruneSpec, RunSpec, Seeds
from prunelab.training.schedules import BEST, iterations_per_epoch, to_iteration, total_iterations

# the dense-run keys that decide results (download/verify_checksums only decide where bytes come from)
DATASET_KEYS = ("name", "path", "size", "channels", "validation", "split_seed", "normalize", "augment")
REINIT_SEED_SHIFT = 1_000_003  # re-initialised branches draw their init from dense init seed + this


def _point(value) -> str:
    """Normalise a training point for comparison: '2 ep' → '2ep', 7 → '7it', 'init' → '0it'."""
    if value in ("init", 0, "0ep"):
        return "0it"
    if isinstance(value, int):
        return f"{value}it"
    return re.sub(r"\s+", "", str(value))


def _seed_pair(seed) -> Seeds:
    return Seeds(int(seed), int(seed)) if isinstance(seed, int) else Seeds(seed["init"], seed["data"])


class _Builder:
    def __init__(self, config: dict):
        self.config = config
        self.plan = Plan(config=config)
        self.specs: dict[str, RunSpec] = {}  # the typed form of plan.specs, which holds their JSON form

    # -- lookups -----------------------------------------------------------------------------------
    def _ref(self, section: str, name: str, key: str) -> dict:
        entries = self.config.get(section, {})
        if name not in entries:
            raise ConfigError(
                f"config key {key}: '{name}' is not defined under {section} "
                f"(defined: {', '.join(sorted(entries)) or 'none'})"
            )
        return entries[name]

    def check_branch_types(self) -> None:
        """Every defined branch names a discovered type (the schema takes any string, so that a new type
        module needs no schema edit), used by an experiment or not."""
        for name, cfg in self.config.get("branches", {}).items():
            get_branch_type(cfg["type"], f"branches.{name}.type")

    # -- specs ---------------------------------------------------------------------------------------
    def _add(self, spec: RunSpec) -> str:
        run_hash = self.plan._add(spec.to_dict())
        self.specs.setdefault(run_hash, spec)
        return run_hash

    def dense_spec(self, name: str, seed) -> DenseSpec:
        cfg = self.config["dense"][name]
        dataset = {k: copy.deepcopy(cfg["dataset"][k]) for k in DATASET_KEYS if k in cfg["dataset"]}
        train = copy.deepcopy(cfg["train"])
        train["save_at"] = sorted({_point(p) for p in train.get("save_at", [])}, key=_sort_point)
        checkpoint = None
        if cfg.get("checkpoint"):  # imported weights: the file's sha256 names the run (absent key: old hashes)
            train["save_at"] = []  # nothing is trained, so there are no snapshots (not even the default 0it)
            checkpoint = checkpoint_spec(cfg["checkpoint"], f"dense.{name}.checkpoint")
        return DenseSpec(
            dataset=dataset,
            model=copy.deepcopy(cfg["model"]),
            train=train,
            seed=_seed_pair(seed),
            checkpoint=checkpoint,
        )

    def prune_spec(
        self,
        pruning_name: str,
        sparsity: float,
        source_hash: str,
        source_kind: str,
        dense_name: str,
        key: str,
        replicate: int,
        variant: dict | None = None,
    ) -> PruneSpec:
        """The prune spec. Its seeds (pruning randomness, scoring batches, JSV batches) are the pruning config's
        seeds plus ``replicate``, the dense init seed, the same rule as a branch's seed_offset: each replicate
        draws its own random mask and scoring examples, so seed-to-seed spread includes the pruning's own."""
        cfg = self._ref("pruning", pruning_name, key)
        if variant:  # a grid point: steps and/or hyperparameters replaced
            cfg = {
                **cfg,
                "steps": variant.get("steps", cfg["steps"]),
                "hparams": {**cfg.get("hparams", {}), **variant.get("hparams", {})},
            }
        where = f"pruning.{pruning_name}"
        method = get_method(cfg["method"], f"{where}.method")
        hparams = resolve_hparams(cfg["method"], cfg.get("hparams"), f"{where}.hparams")
        if sparsity is None and not method.own_sparsity:
            raise ConfigError(
                f"config key {key}: sparsity null needs a method that sets its own structure "
                f"(such as l1_blocks with stage_ratios); '{cfg['method']}' does not"
            )
        at = "final" if cfg["at"] == "final" or source_kind == "branch" else _point(cfg["at"])
        if at != "final":
            self._require_saved(dense_name, at, f"{where}.at")
        scoring = (
            _scoring(cfg["scoring"], replicate, cfg["steps"])
            if method.needs_data and method.data_source == "batches"
            else None
        )
        return PruneSpec(
            parents={"source": f"{source_kind}/{source_hash}"},
            at=at,
            method=cfg["method"],
            hparams=hparams,
            sparsity=None if sparsity is None else float(sparsity),
            scope=cfg["scope"],
            exclude=list(cfg["exclude"]),
            steps=cfg["steps"],
            step_schedule=cfg["step_schedule"],
            scoring=scoring,
            jsv=_replicate_seed(cfg["jsv"], replicate) if cfg["jsv"]["batches"] else None,
            seed=cfg["seed"] + replicate,
        )

    def branch_spec(self, branch_name: str, dense_hash: str, prune_hash: str, dense_name: str, key: str) -> BranchSpec:
        """The spec of branch ``branch_name`` after a mask; its type's declaration decides the defaults, the
        rewind point and the checks. Its ``type`` is the type that computes it (:meth:`BranchType.runs_as`):
        Scratch-E on a net without conv layers is a reinit, so both plan the same run."""
        cfg = self._ref("branches", branch_name, key)
        where = f"branches.{branch_name}"
        branch = get_branch_type(cfg["type"], f"{where}.type")
        dense = self.specs[dense_hash]
        train = copy.deepcopy(dense.train)
        train.pop("save_at", None)
        train.update(copy.deepcopy(branch.train_defaults))
        train.update(copy.deepcopy(cfg.get("train", {})))
        if "schedule" in cfg.get("train", {}):
            train["schedule"] = {**dense.train["schedule"], **cfg["train"]["schedule"]}
        rewind = branch.rewind_point(_point(cfg["rewind"]) if "rewind" in cfg else None, where)
        if branch.from_snapshot:
            self._require_saved(dense_name, rewind, f"{where}.rewind")
        if cfg["optimizer_state"] == "rewind" and not branch.from_snapshot:
            restoring = "/".join(name for name, other in branch_types().items() if other.from_snapshot)
            raise ConfigError(f"config key {where}.optimizer_state: 'rewind' only applies to {restoring}")
        offset = cfg["seed_offset"]
        seed = Seeds(init=dense.seed.init + REINIT_SEED_SHIFT + offset, data=dense.seed.data + offset)
        isometry = dict(cfg["isometry"]) if cfg["isometry"]["method"] != "none" else None
        return BranchSpec(
            parents={"dense": f"dense/{dense_hash}", "prune": f"prune/{prune_hash}"},
            type=branch.runs_as(has_conv(dense.model)),
            rewind=rewind,
            train=train,
            optimizer_state=cfg["optimizer_state"],
            isometry=isometry,
            seed=seed,
        )

    def _require_saved(self, dense_name: str, point: str, key: str) -> None:
        cfg = self.config["dense"][dense_name]
        if cfg.get("checkpoint"):
            raise ConfigError(
                f"config key {key}: needs the checkpoint at '{point}', but dense '{dense_name}' "
                f"imports its weights (dense.{dense_name}.checkpoint) and has no training snapshots"
            )
        if point == BEST:
            if not cfg["dataset"].get("validation"):
                raise ConfigError(
                    f"config key {key}: 'best' is the best-validation epoch, but dense '{dense_name}' holds out "
                    f"no validation split (set dense.{dense_name}.dataset.validation)"
                )
        elif (iteration := _iterations(point, cfg)) > (end := _iterations("end", cfg)):
            raise ConfigError(
                f"config key {key}: '{point}' (iteration {iteration}) is past the end of dense "
                f"'{dense_name}' training ({end} iterations)"
            )
        saved = {_point(p) for p in cfg["train"].get("save_at", [])}
        if point not in saved:
            raise ConfigError(
                f"config key {key}: needs the checkpoint at '{point}', which dense '{dense_name}' "
                f"does not save; add '{point}' to dense.{dense_name}.train.save_at "
                f"(this changes that dense run's hash)"
            )

    # -- experiments ---------------------------------------------------------------------------------
    def experiment(self, name: str, cfg: dict) -> list[dict]:
        rows: list[dict] = []
        key = f"experiments.{name}"
        for p in cfg.get("pruning", []):
            self._ref("pruning", p, f"{key}.pruning")
        for b in cfg.get("branches", []):
            self._ref("branches", b, f"{key}.branches")
        if cfg.get("pruning") and not cfg.get("sparsities"):
            raise ConfigError(f"config key {key}.sparsities: needed when pruning is listed")
        methods = [
            get_method(self.config["pruning"][p]["method"], f"pruning.{p}.method") for p in cfg.get("pruning", [])
        ]
        unknown = [
            n for n in cfg.get("grid", {}).get("hparams", {}) if not any(n in m.hparams["properties"] for m in methods)
        ]
        if unknown:
            raise ConfigError(
                f"config key {key}.grid.hparams: {', '.join(unknown)} is no hyperparameter of the experiment's methods"
            )
        for dense_name in cfg["dense"]:
            dense_cfg = self._ref("dense", dense_name, f"{key}.dense")
            for seed in dense_cfg["seeds"]:
                d_spec = self.dense_spec(dense_name, seed)
                d_hash = self._add(d_spec)
                base = {
                    "experiment": name,
                    "dense": dense_name,
                    "seed": d_spec.seed.init,
                    "model": d_spec.model["name"],
                    "activation": d_spec.model.get("activation"),
                    "dataset": d_spec.dataset["name"],
                    "dense_lr": d_spec.train["lr"],
                    "dense_run": d_hash,
                }
                rows.append(
                    {
                        **base,
                        "stage": "dense",
                        "pruning": None,
                        "method": None,
                        "branch": None,
                        "branch_type": None,
                        "level": 0,
                        "target_sparsity": 0.0,
                        "kind": "dense",
                        "run": d_hash,
                    }
                )
                for pruning_name in cfg.get("pruning", []):
                    for label, variant in self._variants(pruning_name, cfg.get("grid", {}), f"{key}.grid"):
                        for sparsity in cfg["sparsities"]:
                            p_spec = self.prune_spec(
                                pruning_name,
                                sparsity,
                                d_hash,
                                "dense",
                                dense_name,
                                f"{key}.pruning",
                                base["seed"],
                                variant,
                            )
                            rows += self._prune_and_branches(
                                base, p_spec, label, cfg.get("branches", []), d_hash, dense_name, key, level=0
                            )
                if cfg.get("iterative"):
                    rows += self._iterative(base, cfg["iterative"], d_hash, dense_name, f"{key}.iterative")
        return rows

    def _prune_and_branches(self, base, p_spec, pruning_name, branches, d_hash, dense_name, key, level):
        p_hash = self._add(p_spec)
        common = {
            **base,
            "pruning": pruning_name,
            "method": p_spec.method,
            "at": p_spec.at,
            "level": level,
            "target_sparsity": p_spec.sparsity,
            "scope": p_spec.scope,
            "steps": p_spec.steps,
            "hparams": json.dumps(p_spec.hparams, sort_keys=True),
            "prune_run": p_hash,
        }
        rows = [{**common, "stage": "pruned", "branch": None, "branch_type": None, "kind": "prune", "run": p_hash}]
        for branch_name in branches:
            b_spec = self.branch_spec(branch_name, d_hash, p_hash, dense_name, f"{key}.branches")
            branch_type = self.config["branches"][branch_name]["type"]  # the row's, even where the run is shared
            rows.append(
                {
                    **common,
                    "stage": "branch",
                    "branch": branch_name,
                    "branch_type": branch_type,
                    "branch_lr": b_spec.train["lr"],
                    "isometry": (b_spec.isometry or {}).get("method", "none"),
                    "kind": "branch",
                    "run": self._add(b_spec),
                }
            )
        return rows

    def _variants(self, pruning_name: str, grid: dict, key: str) -> list[tuple[str, dict]]:
        """Grid points of one pruning setting: every combination of the grid's ``steps`` and of the
        ``hparams`` values the method has (an axis a method lacks, e.g. λ for magnitude, is not crossed)."""
        method = get_method(self.config["pruning"][pruning_name]["method"])
        axes = [("steps", [("steps", v) for v in grid.get("steps", [])])]
        for name, values in grid.get("hparams", {}).items():
            if name in method.hparams["properties"]:
                axes.append((name, [(name, v) for v in values]))
        points = [[]]
        for _, values in axes:
            if values:
                points = [point + [v] for point in points for v in values]
        if points == [[]]:
            return [(pruning_name, {})]
        variants = []
        for point in points:
            label = (
                pruning_name
                + "["
                + ",".join(f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}" for k, v in point)
                + "]"
            )
            variant = {"hparams": {k: v for k, v in point if k != "steps"}}
            variant.update({k: v for k, v in point if k == "steps"})
            variants.append((label, variant))
        return variants

    def _iterative(self, base, cfg, d_hash, dense_name, key) -> list[dict]:
        """One chain per pruning setting: level L prunes the level L−1 chain branch's weights."""
        rows = []
        self._ref("branches", cfg["branch"], f"{key}.branch")
        side = cfg.get("side_branches", [])
        for name in side:
            self._ref("branches", name, f"{key}.side_branches")
        targets = cfg.get("sparsities") or [1.0 - (1.0 - cfg["rate"]) ** level for level in range(1, cfg["levels"] + 1)]
        if any(b <= a for a, b in zip(targets, targets[1:])):
            raise ConfigError(f"config key {key}.sparsities: {targets} must increase (masks are nested)")
        prunings = cfg["pruning"] if isinstance(cfg["pruning"], list) else [cfg["pruning"]]
        for pruning in prunings:
            source_hash, source_kind = d_hash, "dense"
            for level, sparsity in enumerate(targets, start=1):
                p_spec = self.prune_spec(
                    pruning, sparsity, source_hash, source_kind, dense_name, f"{key}.pruning", base["seed"]
                )
                level_rows = self._prune_and_branches(
                    base, p_spec, pruning, [cfg["branch"], *side], d_hash, dense_name, key, level
                )
                rows += level_rows
                chain = next(r for r in level_rows if r["branch"] == cfg["branch"])  # the next level grows from it
                source_hash, source_kind = chain["run"], "branch"
        return rows

    def figures(self) -> dict[str, dict]:
        from prunelab.analysis.figures import check_figures  # pandas: only when a config is planned

        check_figures(self.config.get("figures", {}))
        figures = {}
        for name, fig in self.config.get("figures", {}).items():
            for exp in fig["experiments"]:
                if exp not in self.config["experiments"]:
                    raise ConfigError(
                        f"config key figures.{name}.experiments: '{exp}' is not an experiment "
                        f"(defined: {', '.join(sorted(self.config['experiments']))})"
                    )
                if fig.get("metric") == "best_test_acc":
                    self._require_validation(name, exp)
            figures[name] = fig
        return figures

    def _require_validation(self, figure: str, experiment: str) -> None:
        """``best_test_acc`` is the test accuracy at the best-*validation* epoch; without a validation split
        there is no best epoch (it is never chosen on test accuracy), so such a figure is a config mistake."""
        for dense_name in self.config["experiments"][experiment]["dense"]:
            if not int(self.config["dense"][dense_name]["dataset"].get("validation", 0)):
                raise ConfigError(
                    f"config key figures.{figure}.metric: best_test_acc needs a validation split, "
                    f"but dense.{dense_name}.dataset.validation is 0 (experiment '{experiment}'); "
                    f"set it, or plot test_acc"
                )


def _replicate_seed(section: dict, replicate: int) -> dict:
    """A scoring/JSV section with its seed shifted by the replicate's dense init seed."""
    return {**section, "seed": section["seed"] + replicate}


def _scoring(section: dict, replicate: int, steps: int) -> dict:
    """The spec's scoring block. ``per_step`` (docs/methods.md §1.8) only means something when there are
    several steps, so a one-step run leaves it out and keeps the hash it had before the key existed."""
    out = _replicate_seed(section, replicate)
    if steps == 1:
        out.pop("per_step", None)
    return out


def _iterations(point: str, dense_cfg: dict) -> int:
    """A training point of a dense config in iterations ('end' = its last iteration), from dataset sizes."""
    train = dense_cfg["train"]
    ipe = iterations_per_epoch(train_test_sizes(dense_cfg["dataset"])[0], int(train["batch_size"]))
    if point == "end":
        return total_iterations(train, ipe)
    return to_iteration(point, ipe)


def _sort_point(point: str) -> tuple[int, int]:
    match = re.match(r"^(\d+)(ep|it)$", point)
    return (0 if match.group(2) == "it" else 1, int(match.group(1))) if match else (2, 0)


def build_plan(config: dict, source: str = "config") -> Plan:
    """The full DAG of ``config`` (already schema-validated, defaults filled).

    A semantic error names ``source`` (the config file) and then the key, like a schema error does.
    """
    builder = _Builder(config)
    try:
        builder.check_branch_types()
        for name, exp in config["experiments"].items():
            builder.plan.experiments[name] = builder.experiment(name, exp)
        builder.plan.figures = builder.figures()
    except ConfigError as error:
        raise ConfigError(in_file(source, str(error))) from None
    return builder.plan


def in_file(source: str, message: str) -> str:
    """``source: key K: ...`` from a checker's ``config key K: ...``: the file already says it is the config."""
    return f"{source}: {message.removeprefix('config ')}"
