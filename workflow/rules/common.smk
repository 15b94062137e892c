# Turns the validated config into the plan (run specs by hash) and input helpers for the rules.
import json
import os

from prunelab.errors import PrunelabError
from prunelab.plan import OUTPUTS as RUN_FILES, build_plan, check_datasets
from prunelab.spec import canonical_json
from prunelab.runtime import runtime_environment

try:
    PLAN = build_plan(config)
    if config["runtime"]["check_data"]:
        check_datasets(PLAN, config["data_root"])
except PrunelabError as error:
    raise WorkflowError(str(error)) from None

RESULTS = PLAN.results
SUITE = config["suite"]
# How jobs run (device, checkpointing, paths) is not part of any result, so it reaches the jobs through the
# environment rather than params: changing it must not rerun anything. Jobs on other hosts re-parse this
# file and get the same values. PYTHONPATH points at this checkout's src/, so jobs run the code of the
# Snakefile that scheduled them (also inside conda envs that lack prunelab).
os.environ.update(runtime_environment(config, source=f"{workflow.basedir}/src"))

RUN_PROVENANCE = [
    f"{PLAN.directory(run_hash)}/provenance.json" for run_hash in PLAN.specs
]
TABLES = [f"{RESULTS}/tables/{SUITE}/{name}.csv" for name in PLAN.experiments]
FIGURES = [f"{RESULTS}/figures/{SUITE}/{name}.png" for name in PLAN.figures]


wildcard_constraints:
    hash="[0-9a-f]{16}",
    suite=SUITE,


def spec_param(wildcards):
    """The hashed form of the run's spec: what the job gets and what Snakemake's params trigger sees."""
    return canonical_json(PLAN.specs[wildcards.hash])


def parent_inputs(wildcards):
    """Every output of every parent run (provenance last, so its presence means the parent finished)."""
    return [
        f"{directory}/{name}"
        for directory in PLAN.parent_dirs(wildcards.hash).values()
        for name in ("spec.json", "provenance.json")
    ]


def run_dir(wildcards, output):
    return os.path.dirname(output[0])


def experiment_rows(wildcards):
    return PLAN.experiments[wildcards.experiment]


def experiment_runs(wildcards):
    return [
        f"{RESULTS}/runs/{row['kind']}/{row['run']}/{name}"
        for row in PLAN.experiments[wildcards.experiment]
        for name in ("metrics.json", "provenance.json")
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
