"""Run every ratio benchmark, each in a fresh process, and print their summary lines (one per benchmark).

    python benchmarks/run_all.py            # all of them
    python benchmarks/run_all.py grouped    # a subset, by script name

A benchmark that fails prints ``<name>: FAILED (exit status)`` with the end of its error output, and the
exit status of run_all is then 1.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
BENCHMARKS = (
    "train_loop",
    "masked_step",
    "grouped",
    "precision",
    "scoring",
    "dag",
    "audit_scale",
    "streaming_loader",
    "job_overhead",
    "threads_per_job",
)


def main(argv: list[str]) -> int:
    unknown = sorted(set(argv) - set(BENCHMARKS))
    if unknown:
        print(f"unknown benchmark(s) {unknown} (choose from {', '.join(BENCHMARKS)})", file=sys.stderr)
        return 2
    failed = False
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    for name in argv or BENCHMARKS:
        start = time.perf_counter()
        proc = subprocess.run([sys.executable, str(HERE / f"{name}.py")], capture_output=True, text=True, env=env)
        seconds = time.perf_counter() - start
        if proc.returncode == 0:
            print(f"{proc.stdout.strip().splitlines()[-1]}  [{seconds:.0f}s]", flush=True)
        else:
            failed = True
            print(f"{name}: FAILED ({proc.returncode})\n{proc.stderr[-2000:]}", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
