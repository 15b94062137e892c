# Turns the validated config into the plan (run specs by hash) and input helpers for the rules.
import json
import os
import sys
from functools import lru_cache

from prunelab.cli import console
from prunelab.records import layout
from prunelab.cli import run_lock
from prunelab.errors import PrunelabError
from prunelab.plan.seed_groups import seed_groups
from prunelab.data.files import (
    dataset_files,
    missing_message,
    real_datasets,
    streamed_datasets,
)
from prunelab.plan.cache import cached_plan
from prunelab.plan.resources import dense_spec_of, estimate, group_request, wants_gpu
from prunelab.records.hashing import canonical_json
from prunelab.jobs.runtime import result_config, runtime_environment

# One run per working directory (prunelab/cli/run_lock.py): a second `snakemake` here, dry runs included (Snakemake
# would fail on the first run's outputs in progress, calling them incomplete), stops now with one line naming
# the first. Jobs that Snakemake runs in subprocesses (run: rules, cluster jobs) parse this file too and take
# no lock. console.install shortens Snakemake's per-job file lists and reports Ctrl-C in one line (onerror).
if workflow.is_main_process:
    from snakemake.logging import logger as snakemake_logger

    busy = run_lock.hold()
    if busy:
        raise WorkflowError(busy)
    console.install(snakemake_logger)

try:
    # stored under .snakemake/ by the hash of the config and of prunelab's code: a parse with the same
    # config and code (dry runs, reruns, each run: job) neither rebuilds the plan nor imports torch
    PLAN = cached_plan(config, ".snakemake/prunelab", CONFIG_SOURCE)
except PrunelabError as error:
    raise WorkflowError(str(error)) from None

RESULTS = PLAN.results
# the config minus `runtime` (how jobs run, never what they compute), as params of the rules that record or
# check the config: switching the device or seed grouping must not rerun them
RESULT_CONFIG = json.dumps(result_config(config), sort_keys=True)
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
GROUP_MARKERS = [
    str(layout.group_dir(RESULTS, group) / layout.GROUP_MARKER) for group in GROUPS
]


# -- data: one job per torchvision dataset the experiments train on (rules/data.smk), whose outputs are the
# files torchvision reads under data_root. Nothing is checked while parsing, so `snakemake -n` shows the whole
# DAG on a machine without the data; a real run checks in `onstart` below, before any job starts.
DATA_ROOT = config["data_root"]
DATASETS = real_datasets(config)
DATA_FILES = {
    name: [str(path) for path in dataset_files(name, DATA_ROOT)] for name in DATASETS
}


def data_inputs(run_hashes):
    """The dataset files the dense runs read, as `ancient`: laying the same files out again (a fresh copy,
    a restored backup) must not retrain anything."""
    names = {PLAN.specs[h]["dataset"]["name"] for h in run_hashes}
    return [
        ancient(path) for name in sorted(names) for path in DATA_FILES.get(name, [])
    ]


def dense_data(wildcards):
    return data_inputs([wildcards.hash])


def group_data(wildcards):
    return data_inputs(GROUPS[wildcards.group])


def missing_data(dag):
    """One line per dataset whose data job would run although it may not download (the files to place), and
    per streamed image folder whose train or val directory is absent."""
    from prunelab.data.stream import check_present as check_folder
    from prunelab.errors import DataError

    needed = {job.rule.name for job in dag.needrun_jobs()}
    lines = [
        missing_message(name, DATA_ROOT)
        for name, download in DATASETS.items()
        if data_rule(name) in needed and not download
    ]
    for dataset in streamed_datasets(config):
        try:
            check_folder(dataset, DATA_ROOT)
        except DataError as error:
            lines.append(str(error))
    return [line for line in lines if line]


def data_rule(name):
    return f"data_{name}"


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
    f"{directory}/{layout.PROVENANCE}"
    for run_hash, directory in RUN_DIRS.items()
    if run_hash not in GROUP_OF and (GROUP_SEEDS or run_hash not in TABLED)
]
TABLES = [str(layout.table(RESULTS, SUITE, name)) for name in PLAN.experiments]
FIGURES = [str(layout.figure(RESULTS, SUITE, name)) for name in PLAN.figures]


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
        for path in run_files(os.path.basename(link), (layout.SPEC, layout.PROVENANCE))
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
        for path in run_files(row["run"], (layout.METRICS, layout.PROVENANCE))
    ]


def figure_tables(wildcards):
    return [
        str(layout.table(RESULTS, SUITE, name))
        for name in PLAN.figures[wildcards.figure]["experiments"]
    ]


def figure_spec(wildcards):
    return json.dumps(PLAN.figures[wildcards.figure], sort_keys=True)


def run_outputs(kind):
    """Declared outputs of a run rule; provenance.json is written last by the job."""
    directory = layout.run_dir(RESULTS, kind, "{hash}")
    return [str(directory / name) for name in layout.run_files(kind)]


def run_log(kind, name):
    """The log of a run rule, in the run directory's logs/ folder."""
    return str(layout.run_dir(RESULTS, kind, "{hash}") / layout.LOGS / name)


# -- resources: what each run job asks the scheduler for (prunelab/plan/resources.py estimates it from the spec) --
# Wall time and memory grow with Snakemake's `attempt`, so a retried job (after TIMEOUT, OUT_OF_MEMORY or a
# cancel) comes back bigger and resumes from its train_state.pt. A GPU is requested for runtime.device=cuda,
# and for runtime.device=auto when a cluster executor runs the jobs; on a CPU-only cluster set
# runtime.device=cpu, or override it with set-resources (`--set-resources train:gpu=0`).
PACK_GROUP = "pack"
DEVICE = config.get("runtime", {}).get("device", "auto")
# runtime.processes > 1: a training job is that many DDP ranks (torchrun inside the job, one per GPU), so it
# asks for that many GPUs and the cores and memory of that many processes (seed groups stay one process)
PROCESSES = int(config.get("runtime", {}).get("processes", 1))


def _request(wildcards, attempt=1):
    return _run_request(wildcards.hash, attempt)


# cached: Snakemake asks for threads, mem_mb, runtime, gpu and the pack group one by one, for every job
@lru_cache(maxsize=None)
def _run_request(run_hash, attempt=1):
    spec = PLAN.specs[run_hash]
    on_cluster = workflow.non_local_exec or workflow.remote_exec
    return estimate(
        spec,
        dense_spec_of(spec, PLAN.specs),
        gpu=wants_gpu(DEVICE, on_cluster),
        attempt=attempt,
        processes=1 if GROUP_SEEDS else PROCESSES,
    )


def _group_request(wildcards, attempt=1):
    return group_request([_run_request(h, attempt) for h in GROUPS[wildcards.group]])


def group_threads(wildcards):
    return _group_request(wildcards).threads


def group_mem_mb(wildcards, attempt):
    return _group_request(wildcards, attempt).mem_mb


def group_runtime(wildcards, attempt):
    return _group_request(wildcards, attempt).runtime


def group_gpu(wildcards):
    return _group_request(wildcards).gpu


def job_threads(wildcards):
    return _request(wildcards).threads


def job_mem_mb(wildcards, attempt):
    return _request(wildcards, attempt).mem_mb


def job_runtime(wildcards, attempt):
    return _request(wildcards, attempt).runtime


def job_gpu(wildcards):
    return _request(wildcards).gpu


def pack_group(wildcards):
    """Small runs join group 'pack': with --group-components pack=K, K of them share one allocation
    (and its GPU). Each takes one `pack_slot`; the slurm profile allows one slot per allocation (a local
    resource scope), so a group asks for the largest member's threads/memory/GPU and the sum of their
    wall times, matching how the jobs run inside it: one after the other."""
    return PACK_GROUP if _request(wildcards).packable else None


def _submissions(dag, as_groups):
    """(who, resources, threads) of the SLURM requests of this run: every job on its own, or the packed
    groups as they will be submitted."""
    seen = set()
    for job in dag.needrun_jobs():
        if job.is_local:
            continue
        group = dag.get_job_group(job)
        if not as_groups:
            yield f"rule '{job.rule.name}'", job.resources, job.threads
        elif group is not None and id(group) not in seen:
            seen.add(id(group))
            rules = ", ".join(sorted({member.rule.name for member in group.jobs}))
            yield f"group '{group.groupid}' of rules {rules}", group.resources, group.threads


# Local jobs are children forked from one job worker with torch imported (prunelab/cli/worker.py), which
# saves each job the imports; it is stopped when the run ends and exits by itself when this process does.
JOB_WORKER = {}


def start_job_worker():
    if not (workflow.non_local_exec or workflow.remote_exec):
        from prunelab.cli.handoff import start

        JOB_WORKER["handle"] = start(f"{workflow.basedir}/src")


def stop_job_worker():
    handle = JOB_WORKER.pop("handle", None)
    if handle is not None:
        handle.stop()


onsuccess:
    stop_job_worker()
    # the suite's verdict counts, one screen, at the end of every successful run (rules/analysis.smk)
    if os.path.isfile(REPLICATION):
        from prunelab.replication.write import print_summary

        print_summary(SUITE, REPLICATION)


onerror:
    stop_job_worker()
    if console.interrupted():
        print(console.interrupted_line(), file=sys.stderr)


onstart:
    # A dataset that must be placed by hand stops a real run here, before any job (dry runs skip onstart):
    # otherwise the jobs of datasets that are present would start and the suite would fail half way.
    missing = missing_data(workflow.dag)
    if missing:
        raise WorkflowError("\n".join(missing))
    start_job_worker()
    # SLURM refusals (bad account/partition, more GPUs/CPUs than a node has) as one line per cause, before
    # anything is submitted; a packed group's refusal would otherwise reach the user without SLURM's reason.
    if (
        workflow.executor_plugin is not None
        and workflow.executor_plugin.name == "slurm"
    ):
        from prunelab.plan.slurm import preflight

        # name the rule when a job on its own is refused, else the packed group
        for as_groups in (False, True):
            problems = preflight(_submissions(workflow.dag, as_groups))
            if problems:
                raise WorkflowError("\n".join(problems))


# -- audit: the files the suite's audit checks (rules/audit.smk) --
AUDIT_REPORT = str(layout.audit_report(RESULTS, SUITE))
ANALYSIS_FILES = (
    [
        str(layout.table(RESULTS, SUITE, name, suffix))
        for name in PLAN.experiments
        for suffix in (".csv", ".manifest.json", layout.SIDECAR_SUFFIX)
    ]
    + [
        str(layout.figure(RESULTS, SUITE, name, suffix))
        for name in PLAN.figures
        for suffix in (".png", ".pdf", ".csv", ".summary.rst", layout.SIDECAR_SUFFIX)
    ]
    + [
        str(layout.replication(RESULTS, SUITE, suffix))
        for suffix in (".csv", ".md", layout.SIDECAR_SUFFIX)
    ]
    + [
        str(layout.report_file(RESULTS, SUITE, name))
        for name in (
            "runs_provenance.csv",
            "config.yaml",
            "runs_provenance.provenance.json",
        )
    ]
)


def audited_files(wildcards):
    """Every output of every planned run (grouped dense runs once their group has written them), then the
    tables, figures and report files."""
    runs = [
        path
        for run_hash in PLAN.specs
        for path in run_files(run_hash, layout.run_files(PLAN.kind(run_hash)))
    ]
    return runs + ANALYSIS_FILES
