"""SLURM pre-flight: the sbatch flags of a request, and one line per refusal (live test when a cluster is up)."""

import subprocess
from types import SimpleNamespace

from local_cluster import require_cluster

from prunelab.plan.slurm import preflight, refusal, sbatch_flags

REQUEST = {"slurm_account": "lab", "slurm_partition": "gpu", "runtime": 30, "mem_mb": 2048, "gpu": 1}


def test_flags_mirror_the_executor_plugin():
    assert sbatch_flags(REQUEST, 2) == (
        "-A",
        "lab",
        "-p",
        "gpu",
        "-t",
        "30",
        "--mem",
        "2048",
        "--cpus-per-task=2",
        "--gpus=1",
    )
    cpu_only = sbatch_flags({"mem_mb": 100, "mem_mb_per_cpu": 50, "slurm_extra": "--exclusive --nice=5"}, 1)
    assert cpu_only == ("--mem-per-cpu", "50", "--ntasks=1", "--cpus-per-task=1", "--exclusive", "--nice=5")
    model = sbatch_flags({"gpu": 2, "gpu_model": "a100", "cpus_per_gpu": 8, "constraint": "ib", "qos": "long"}, 4)
    assert model == ("-C", "ib", "--qos=long", "--cpus-per-gpu=8", "--gpus=a100:2")
    assert sbatch_flags({"gres": "gpu:1", "cpus_per_task": 5}, 3) == ("--cpus-per-task=5", "--gres=gpu:1")
    assert sbatch_flags({"cpus_per_task": -1}, 3) == ("--ntasks=1",)


class FakeSbatch:
    """Refuses requests for more than one GPU, like a node with a single GPU; counts its calls."""

    def __init__(self):
        self.calls = []

    def __call__(self, command, **kwargs):
        self.calls.append(command)
        if any(arg.startswith("--gpus=") and arg != "--gpus=1" for arg in command):
            return SimpleNamespace(
                returncode=1,
                stdout="",
                stderr="sbatch: error: Batch job submission failed: Requested node configuration is not available\n",
            )
        return SimpleNamespace(returncode=0, stdout="", stderr="sbatch: Job 7 to start at now\n")


def test_preflight_asks_once_per_distinct_request_and_names_every_asker():
    sbatch = FakeSbatch()
    big = {**REQUEST, "gpu": 4}
    requests = [
        ("rule 'train'", big, 2),
        ("rule 'prune'", REQUEST, 2),
        ("rule 'train'", big, 2),
        ("rule 'branch'", big, 2),
        ("rule 'prune'", REQUEST, 2),
    ]
    problems = preflight(requests, run=sbatch)
    assert len(sbatch.calls) == 2 and all(c[:2] == ["sbatch", "--test-only"] for c in sbatch.calls)
    assert problems == [
        "SLURM refuses rule 'train' (2 jobs), rule 'branch' (1 job): sbatch: error: Batch job "
        "submission failed: Requested node configuration is not available "
        "[sbatch -A lab -p gpu -t 30 --mem 2048 --cpus-per-task=2 --gpus=4]"
    ]
    assert preflight([("rule 'prune'", REQUEST, 2)], run=FakeSbatch()) == []


def test_a_silent_failure_a_hung_controller_and_no_sbatch_still_give_a_reason():
    def silent(command, **kwargs):
        return SimpleNamespace(returncode=3, stdout="", stderr="")

    def hung(command, **kwargs):
        raise subprocess.TimeoutExpired(command, kwargs["timeout"])

    def missing(command, **kwargs):
        raise FileNotFoundError(command[0])

    assert refusal(("-p", "x"), run=silent) == "sbatch --test-only exited with status 3"
    assert "did not answer within" in refusal(("-p", "x"), run=hung)
    assert "not on PATH" in refusal(("-p", "x"), run=missing)


def test_live_cluster_refuses_impossible_requests_and_accepts_a_small_one():
    require_cluster()
    assert refusal(sbatch_flags({"runtime": 1, "mem_mb": 100}, 1)) is None
    too_many_gpus = refusal(sbatch_flags({"runtime": 1, "mem_mb": 100, "gpu": 64}, 1))
    assert too_many_gpus is not None and "not available" in too_many_gpus
    assert "partition" in refusal(sbatch_flags({"slurm_partition": "no-such-partition"}, 1)).lower()
