"""Ask SLURM whether it would accept every job before Snakemake submits any (``sbatch --test-only``).

A request SLURM can never satisfy (no such partition, an account the user may not charge, more GPUs or
CPUs than any node has) is refused at submission. Through Snakemake that refusal is easy to lose: for a
packed group job the plugin's message is dropped altogether and the run just ends with "Error in group".
The workflow therefore runs this check when a SLURM run starts (``onstart`` in rules/common.smk): each
distinct request is put to ``sbatch --test-only`` with the flags the executor plugin would use, and every
refusal becomes one line naming the rule (or the packed group) and quoting SLURM.
"""

from __future__ import annotations

import shlex
import subprocess
from collections.abc import Callable, Iterable, Mapping

TEST_TIMEOUT_SECONDS = 30


def sbatch_flags(resources: Mapping, threads: int) -> tuple[str, ...]:
    """The resource flags snakemake-executor-plugin-slurm (2.8) derives from a job's resources."""
    flags: list[str] = []
    if resources.get("slurm_account"):
        flags += ["-A", str(resources["slurm_account"])]
    if resources.get("slurm_partition"):
        flags += ["-p", str(resources["slurm_partition"])]
    if resources.get("runtime"):
        flags += ["-t", str(resources["runtime"])]
    if resources.get("constraint") is not None:
        flags += ["-C", str(resources["constraint"])]
    if resources.get("qos") is not None:
        flags += [f"--qos={resources['qos']}"]
    if resources.get("mem_mb_per_cpu"):
        flags += ["--mem-per-cpu", str(resources["mem_mb_per_cpu"])]
    elif resources.get("mem_mb"):
        flags += ["--mem", str(resources["mem_mb"])]
    gpus = resources.get("gpu")
    gpu_job = bool(gpus) or "gpu" in str(resources.get("gres", ""))
    if not gpu_job:
        flags += ["--ntasks=1"]
    if resources.get("cpus_per_task"):
        if int(resources["cpus_per_task"]) > 0:  # negative: the cluster sets CPUs itself
            flags += [f"--cpus-per-task={resources['cpus_per_task']}"]
    elif gpu_job and resources.get("cpus_per_gpu"):
        if int(resources["cpus_per_gpu"]) > 0:
            flags += [f"--cpus-per-gpu={resources['cpus_per_gpu']}"]
    else:
        flags += [f"--cpus-per-task={threads}"]
    if resources.get("gres"):
        flags += [f"--gres={resources['gres']}"]
    if resources.get("gpu_model"):
        flags += [f"--gpus={resources['gpu_model']}:{gpus or 1}"]
    elif gpus:
        flags += [f"--gpus={gpus}"]
    if resources.get("slurm_extra"):
        flags += shlex.split(str(resources["slurm_extra"]))
    return tuple(flags)


def refusal(flags: tuple[str, ...], run: Callable = subprocess.run) -> str | None:
    """SLURM's reason for refusing ``flags`` (its last error line), or None if it would queue the job."""
    command = ["sbatch", "--test-only", *flags, "--wrap", "true"]
    try:
        done = run(command, capture_output=True, text=True, timeout=TEST_TIMEOUT_SECONDS)
    except subprocess.TimeoutExpired:
        return f"sbatch --test-only did not answer within {TEST_TIMEOUT_SECONDS} s (is slurmctld up?)"
    except FileNotFoundError:
        return "sbatch is not on PATH (run Snakemake on a SLURM login node)"
    if done.returncode == 0:
        return None
    lines = [line.strip() for line in (done.stderr + done.stdout).splitlines() if line.strip()]
    return lines[-1] if lines else f"sbatch --test-only exited with status {done.returncode}"


def preflight(requests: Iterable[tuple[str, Mapping, int]], run: Callable = subprocess.run) -> list[str]:
    """One line per distinct refused request, naming who asked for it.

    ``requests`` are (who, resources, threads) per job or group, e.g. ("rule 'train'", {...}, 2); each
    distinct flag set is put to SLURM once.
    """
    askers: dict[tuple[str, ...], dict[str, int]] = {}
    for who, resources, threads in requests:
        counts = askers.setdefault(sbatch_flags(resources, threads), {})
        counts[who] = counts.get(who, 0) + 1
    problems = []
    for flags, counts in askers.items():
        reason = refusal(flags, run)
        if reason is not None:
            who = ", ".join(f"{name} ({n} job{'s' if n > 1 else ''})" for name, n in counts.items())
            problems.append(f"SLURM refuses {who}: {reason} [sbatch {shlex.join(flags)}]")
    return problems
