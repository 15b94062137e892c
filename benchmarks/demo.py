"""The demo's wall time beside its jobs' own work: how much of a local run is per-job fixed cost.

Runs the demo config (or ``--configfile``) from scratch in a temporary directory with ``--cores N`` and sums,
over every run's provenance, the time from ``started`` to ``finished`` (whole seconds, as provenance records
them). With N job slots the work alone would take sum / N; the ratio of the wall time to that is the
overhead factor (target ≤ 1.4; 2.7 before the job worker). ``--no-worker`` runs every job as a fresh
process, for the comparison. Takes minutes (the demo is 262 jobs) and both cores: run it on a quiet machine.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def job_seconds(results: Path) -> tuple[float, int]:
    """Summed started→finished of every run's provenance, and the number of runs."""
    total, count = 0.0, 0
    for path in results.glob("runs/*/*/provenance.json"):
        record = json.loads(path.read_text())
        total += (
            dt.datetime.fromisoformat(record["finished"]) - dt.datetime.fromisoformat(record["started"])
        ).total_seconds()
        count += 1
    return total, count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--configfile", default=str(ROOT / "config.yaml"))
    parser.add_argument("--cores", type=int, default=2)
    parser.add_argument("--no-worker", action="store_true", help="every job a fresh process (the old way)")
    args = parser.parse_args()
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}
    if args.no_worker:
        env["PRUNELAB_WORKER"] = "0"
    with tempfile.TemporaryDirectory(prefix="demo-bench-") as work:
        start = time.perf_counter()
        subprocess.run(
            [
                str(BIN / "snakemake"),
                "--snakefile",
                str(ROOT / "Snakefile"),
                "--directory",
                work,
                "--configfile",
                args.configfile,
                "--cores",
                str(args.cores),
                "--quiet",
                "all",
            ],
            check=True,
            env=env,
            stdout=subprocess.DEVNULL,
        )
        wall = time.perf_counter() - start
        work_seconds, runs = job_seconds(Path(work) / "results")
    ideal = work_seconds / args.cores
    print(
        f"demo [{'fresh processes' if args.no_worker else 'job worker'}, {args.cores} slots, "
        f"load {os.getloadavg()[0]:.1f}] wall {wall:.0f}s, {runs} runs' summed job time {work_seconds:.0f}s "
        f"(/{args.cores} = {ideal:.0f}s): wall/(job time/slots) {wall / ideal:.2f} (target <=1.4)"
    )


if __name__ == "__main__":
    main()
