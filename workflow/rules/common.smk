# Turns the validated config into the plan (run specs by hash) and input helpers for the rules.
import json
import os

from prunelab.errors import PrunelabError
from prunelab.grouping import MARKER as GROUP_MARKER, group_dir, seed_groups
from prunelab.plan import OUTPUTS as RUN_FILES, build_plan
from prunelab.spec import canonical_json
from prunelab.runtime import runtime_environment

try:
    PLAN = build_plan(config)
except PrunelabError as error:
    raise WorkflowError(str(error)) from None

RESULTS = PLAN.results
SUITE = config["suite"]
# How jobs run (device, checkpointing, paths) is not part of any result, so it reaches the jobs through the
# environment rather than params: changing it must not rerun anything. Jobs on other hosts re-parse this
# file and get the same values. PYTHONPATH points at this checkout's src/, so jobs run the code of the
# Snakefile that scheduled them (also inside conda envs that lack prunelab).
os.environ.update(runtime_environment(config, source=f"{workflow.basedir}/src"))

# runtime.group_seeds: the dense runs that differ only in seed are trained by one train_group job per group.
# train_group is a checkpoint: the members' files exist once it has run, so every consumer asks for exactly
# the files it asks for without grouping. Downstream inputs, params and code are therefore the same either
# way, and switching grouping on or off reruns nothing (run hashes are untouched: grouping is runtime).
GROUP_SEEDS = bool(config.get("runtime", {}).get("group_seeds", False))
GROUPS = seed_groups(PLAN.specs) if GROUP_SEEDS else {}
GROUP_OF = {member: group for group, members in GROUPS.items() for member in members}
GROUP_MARKERS = [f"{group_dir(RESULTS, group)}/{GROUP_MARKER}" for group in GROUPS]


# run directories as strings, computed once: the input functions below run for every job of the DAG
RUN_DIRS = {run_hash: str(PLAN.directory(run_hash)) for run_hash in PLAN.specs}


def run_files(run_hash, names):
    """``names`` in the run's directory; for a grouped dense run, once its group's job has written them."""
    if run_hash in GROUP_OF:
        checkpoints.train_group.get(group=GROUP_OF[run_hash])
    return [f"{RUN_DIRS[run_hash]}/{name}" for name in names]


# What `all` needs beyond the tables. Every run of the plan is a row of some experiment, and each table
# already depends on its rows' provenance, so listing all runs again here only doubled Snakemake's work on
# a large DAG (one more file lookup per run); the runs that no table covers are listed, which is none for
# plans built from experiments. With seed groups, every group marker is listed so that all group jobs are
# scheduled at once, and so are the runs after them: a table's inputs wait behind the group checkpoints,
# and listing the runs keeps `snakemake -n` showing every job of a fresh grouped tree.
TABLED = {row["run"] for rows in PLAN.experiments.values() for row in rows}
RUN_PROVENANCE = GROUP_MARKERS + [
    f"{directory}/provenance.json"
    for run_hash, directory in RUN_DIRS.items()
    if run_hash not in GROUP_OF and (GROUP_SEEDS or run_hash not in TABLED)
]
TABLES = [f"{RESULTS}/tables/{SUITE}/{name}.csv" for name in PLAN.experiments]
FIGURES = [f"{RESULTS}/figures/{SUITE}/{name}.png" for name in PLAN.figures]


wildcard_constraints:
    hash="[0-9a-f]{16}",
    group="[0-9a-f]{16}",
    suite=SUITE,


def spec_param(wildcards):
    """The hashed form of the run's spec: what the job gets and what Snakemake's params trigger sees."""
    return canonical_json(PLAN.specs[wildcards.hash])


def parent_inputs(wildcards):
    """Every parent's spec and provenance (written last, so its presence means the parent finished)."""
    return [
        path
        for link in PLAN.specs[wildcards.hash].get("parents", {}).values()
        for path in run_files(os.path.basename(link), ("spec.json", "provenance.json"))
    ]


def group_specs_param(wildcards):
    """The hashed forms of a seed group's member specs, as one JSON list (the params rerun trigger)."""
    members = (canonical_json(PLAN.specs[h]) for h in GROUPS[wildcards.group])
    return "[" + ",".join(members) + "]"


def run_dir(wildcards, output):
    return os.path.dirname(output[0])


def experiment_rows(wildcards):
    return PLAN.experiments[wildcards.experiment]


def experiment_runs(wildcards):
    return [
        path
        for row in PLAN.experiments[wildcards.experiment]
        for path in run_files(row["run"], ("metrics.json", "provenance.json"))
    ]


def figure_tables(wildcards):
    return [
        f"{RESULTS}/tables/{SUITE}/{name}.csv"
        for name in PLAN.figures[wildcards.figure]["experiments"]
    ]


def figure_spec(wildcards):
    return json.dumps(PLAN.figures[wildcards.figure], sort_keys=True)


def run_outputs(kind):
    """Declared outputs of a run rule; provenance.json is written last by the job."""
    return [
        f"{RESULTS}/runs/{kind}/{{hash}}/{name}"
        for name in (*RUN_FILES[kind], "provenance.json")
    ]
