"""How long Snakemake takes to plan a large suite: a dry run from scratch and a dry run over finished results.

A synthetic suite of two dense configs × 16 seeds, 4 pruning settings × 10 sparsities and 3 branches after
every mask is > 5,000 jobs. ``dry-run`` times ``snakemake -n`` with nothing done (config parse, plan, DAG);
``no-op rerun`` times it again after every job's outputs exist (what a user waits for before "Nothing to be
done"). The outputs are created empty, parents before children, without Snakemake metadata records, so the
rerun triggers find nothing to compare (after real runs, add reading one small record per output).
``startup`` is ``snakemake --version``: the part of both numbers that is Snakemake and its plugins loading,
before our Snakefile runs. Prints one line; ``--keep DIR`` leaves the work directory for profiling.

``--suites`` instead dry-runs the four full paper suites (workflow/experiments/{rethinking,lossmodel,sipp,
dyniso}.yaml; a dry run checks no data, so absent datasets do not matter) and prints each one's time beyond
start-up (dry run minus ``snakemake --version``, fastest of ``--repeats``), summed, against the target of 8 s:
once *cold* (no stored plan: the plan is built) and once *warm* (the plan stored by the cold run found under
.snakemake/, as on every later invocation with the same config and code).

Beside them it prints Snakemake's own *floor* for the same suites: the suite's runs (same hashes, same
parents) written as plainly as Snakemake allows — one pattern rule per run kind, inputs looked up in a dict,
``touch`` as the command, no resources, conda, groups, tables, figures or audit — dry-run the same way.
``floor (same files)`` declares what prunelab's rules declare (every output of a run, each parent's
spec.json and provenance.json); ``floor (one file)`` declares only provenance.json, the least a workflow
with one job per run can declare. The gap between prunelab and the first floor is what prunelab's rules add;
the first floor against the target says whether the target is reachable with these jobs and files at all.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from prunelab.config.validation import validate_config  # noqa: E402
from prunelab.plan.build import build_plan  # noqa: E402

SEEDS = 16


def suite() -> dict:
    dense = {
        "dataset": {"name": "digits", "size": 28, "channels": 1, "validation": 100},
        "train": {"epochs": 2, "batch_size": 128, "lr": 0.05, "save_at": ["0it"]},
        "seeds": list(range(SEEDS)),
    }
    return {
        "suite": "dagbench",
        "dense": {"mlp": {**dense, "model": {"name": "lenet_300_100"}}, "conv": {**dense, "model": {"name": "lenet5"}}},
        "pruning": {
            "magnitude": {"method": "magnitude"},
            "magnitude_layer": {"method": "magnitude", "scope": "layerwise"},
            "random": {"method": "random", "seed": 1},
            "random_init": {"method": "random", "at": "init"},
        },
        "branches": {
            "finetune": {"type": "finetune"},
            "lottery": {"type": "lottery"},
            "scratch": {"type": "scratch_e"},
        },
        "experiments": {
            "oneshot": {
                "dense": ["mlp", "conv"],
                "pruning": ["magnitude", "magnitude_layer", "random", "random_init"],
                "sparsities": [round(0.1 * i, 1) for i in range(1, 10)] + [0.95],
                "branches": ["finetune", "lottery", "scratch"],
            }
        },
    }


def snakemake(workdir: Path, *args: str, own_snakefile: bool = False) -> tuple[float, str]:
    """Seconds and output of ``snakemake *args`` on ``workdir``: with the checkout's Snakefile and the
    workdir's config.yaml, or (``own_snakefile``) the Snakefile inside ``workdir`` and no config."""
    bin_dir = Path(sys.executable).parent
    workflow = (
        [] if own_snakefile else ["--snakefile", str(ROOT / "Snakefile"), "--configfile", str(workdir / "config.yaml")]
    )
    cmd = [str(bin_dir / "snakemake"), "--directory", str(workdir), *workflow, *args]
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}", "PYTHONPATH": str(ROOT / "src")}
    start = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=workdir if own_snakefile else None)
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"snakemake {' '.join(args)} in {workdir} failed:\n{proc.stderr[-3000:]}")
    return seconds, proc.stdout + proc.stderr


def planned_total(text: str) -> int:
    match = re.search(r"^total\s+(\d+)", text, re.MULTILINE)
    return int(match.group(1)) if match else 0


def create_outputs(workdir: Path, config: dict) -> None:
    """Every job's outputs as empty files, parents before children (so no input is newer than an output)."""
    plan = build_plan(validate_config(config))
    os.chdir(workdir)
    for kind in ("dense", "prune", "branch"):
        for run_hash in plan.hashes(kind):
            for path in plan.outputs(run_hash):
                Path(path).parent.mkdir(parents=True, exist_ok=True)
                Path(path).touch()
    tables = Path(plan.results) / "tables" / config["suite"]
    tables.mkdir(parents=True, exist_ok=True)
    for name in plan.experiments:
        for suffix in (".manifest.json", ".csv", ".provenance.json"):
            (tables / f"{name}{suffix}").touch()


SUITES = ("rethinking", "lossmodel", "sipp", "dyniso")
SUITE_TARGET = 8.0  # seconds beyond start-up, the four suites together


def fastest(
    workdir: Path, repeats: int, *args: str, before=lambda: None, own_snakefile: bool = False
) -> tuple[float, str]:
    best, text = float("inf"), ""
    for _ in range(repeats):
        before()
        seconds, text = snakemake(workdir, *args, own_snakefile=own_snakefile)
        best = min(best, seconds)
    return best, text


# The floor workflow: prunelab's runs in the plainest Snakemake form (see the module docstring).
FLOOR_SNAKEFILE = """
import json

RUNS = json.load(open("runs.json"))
FILES = json.load(open("files.json"))


rule all:
    input:
        [f"runs/{run['kind']}/{run_hash}/provenance.json" for run_hash, run in RUNS.items()],


for _kind, _names in FILES.items():

    rule:
        name:
            f"run_{_kind}"
        input:
            lambda wildcards: RUNS[wildcards.run_hash]["inputs"],
        output:
            [f"runs/{_kind}/{{run_hash}}/{_name}" for _name in _names],
        shell:
            "touch {output}"
"""


def write_floor(workdir: Path, config: dict, one_file: bool) -> None:
    """The floor workflow of ``config``'s plan in ``workdir``: same runs and parents, declared files as the
    rules declare them or (``one_file``) provenance.json alone."""
    from prunelab.records import layout

    plan = build_plan(validate_config(config))
    parent_files = (layout.PROVENANCE,) if one_file else (layout.SPEC, layout.PROVENANCE)
    runs = {
        run_hash: {
            "kind": spec["kind"],
            "inputs": [f"runs/{link}/{name}" for link in spec.get("parents", {}).values() for name in parent_files],
        }
        for run_hash, spec in plan.specs.items()
    }
    files = {kind: [layout.PROVENANCE] if one_file else list(layout.run_files(kind)) for kind in layout.RUN_KINDS}
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "runs.json").write_text(json.dumps(runs))
    (workdir / "files.json").write_text(json.dumps(files))
    (workdir / "Snakefile").write_text(FLOOR_SNAKEFILE)


def suites(repeats: int) -> None:
    import shutil

    base = Path(tempfile.mkdtemp(prefix="prunelab-dag-suites-"))
    try:
        startup, _ = fastest(base, repeats, "--version")
        beyond = {"cold": {}, "warm": {}, "floor (same files)": {}, "floor (one file)": {}}
        jobs = {}
        for name in SUITES:
            workdir = base / name
            workdir.mkdir()
            (workdir / "config.yaml").write_text((ROOT / "workflow" / "experiments" / f"{name}.yaml").read_text())
            stored = workdir / ".snakemake" / "prunelab"
            cold, text = fastest(workdir, repeats, "-n", before=lambda: shutil.rmtree(stored, ignore_errors=True))
            warm, _ = fastest(workdir, repeats, "-n")
            jobs[name] = planned_total(text)
            beyond["cold"][name], beyond["warm"][name] = cold - startup, warm - startup
            config = yaml.safe_load((workdir / "config.yaml").read_text())
            for state, one_file in (("floor (same files)", False), ("floor (one file)", True)):
                floor_dir = base / f"{name}-floor-{int(one_file)}"
                write_floor(floor_dir, config, one_file)
                seconds, floor_text = fastest(floor_dir, repeats, "-n", own_snakefile=True)
                beyond[state][name] = seconds - startup
                jobs[f"{name} {state}"] = planned_total(floor_text)
    finally:
        shutil.rmtree(base, ignore_errors=True)
    parts = []
    for state, times in beyond.items():
        total = sum(times.values())
        counted = (lambda name: jobs[f"{name} {state}"]) if state.startswith("floor") else jobs.get
        each = ", ".join(f"{name} ({counted(name)} jobs) {seconds:.1f}s" for name, seconds in times.items())
        parts.append(f"{state}: {each}; sum {total:.1f}s = {total / SUITE_TARGET:.2f}x the {SUITE_TARGET:.0f}s target")
    print(
        f"dag suites [{os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}] beyond start-up "
        f"({startup:.1f}s): " + " | ".join(parts)
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keep", help="work directory to use and keep")
    parser.add_argument("--suites", action="store_true", help="the four full suites' dry runs instead")
    parser.add_argument("--repeats", type=int, default=2, help="with --suites: keep the fastest of this many")
    args = parser.parse_args()
    if args.suites:
        suites(args.repeats)
        return
    workdir = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="prunelab-dag-"))
    workdir.mkdir(parents=True, exist_ok=True)
    config = suite()
    (workdir / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    dry, text = snakemake(workdir, "-n")
    jobs = planned_total(text)
    create_outputs(workdir, config)
    noop, text = snakemake(workdir, "-n")
    left = planned_total(text)
    startup, _ = snakemake(workdir, "--version")
    print(
        f"dag [{os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}] jobs {jobs}: dry-run {dry:.1f}s, "
        f"no-op rerun {noop:.1f}s ({left} jobs left), of which Snakemake startup {startup:.1f}s"
    )
    if not args.keep:
        import shutil

        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
