"""How long ``prunelab audit`` takes on a synthetic results tree of 10,000 runs (one summary line).

The tree has the real layout and real provenance (written by prunelab.records.provenance, so every sha256 and
parent link is genuine): D dense runs, each pruned at several sparsities, each mask fine-tuned once, plus
tables that read 1,000 runs each and figures drawn from those tables. Output files are small random
bytes, so the time measured is the audit's own work (walking, parsing, hashing once, following links),
not disk bandwidth; the files were just written and sit in the page cache.

    python benchmarks/audit_scale.py [--runs 10000] [--keep DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

from prunelab.records import provenance
from prunelab.records.audit import audit
from prunelab.records.hashing import spec_hash
from prunelab.records.layout import PROVENANCE, run_dir


def write_json(path: Path, data) -> None:
    """Plain writes: the workflow's atomic fsynced writes would make building 50,000 files take minutes."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")


SPARSITIES = [0.5, 0.7, 0.8, 0.9, 0.95, 0.98]
FILE_BYTES = {"model.pt": 4096, "snapshots.pt": 8192, "mask.pt": 1024}
RUNS_PER_TABLE = 1000
TABLES_PER_FIGURE = 5


def _write_run(results: Path, spec: dict, files: list[str], parents: dict[str, Path], rng) -> str:
    """One finished run: spec.json, random-byte outputs, metrics.json, then provenance.json last."""
    run_hash = spec_hash(spec)
    directory = run_dir(results, spec["kind"], run_hash)
    directory.mkdir(parents=True)
    outputs = {}
    for name in files:
        (directory / name).write_bytes(rng.randbytes(FILE_BYTES[name]))
        outputs[name] = directory / name
    write_json(directory / "metrics.json", {"status": "ok", "final": {"test_acc": rng.uniform(10, 99)}})
    write_json(directory / "spec.json", spec)
    outputs.update({"metrics.json": directory / "metrics.json", "spec.json": directory / "spec.json"})
    record = provenance.build(outputs, spec=spec, parents=parents, seeds={}, relative_to=directory)
    write_json(directory / PROVENANCE, record)
    return run_hash


def build_tree(results: Path, runs: int, seed: int = 0) -> int:
    """Write about ``runs`` runs (dense → prune → finetune chains), their tables and figures; return the count."""
    import random

    rng = random.Random(seed)
    per_dense = 1 + 2 * len(SPARSITIES)
    keys: list[tuple[str, str]] = []
    for d in range(max(1, -(-runs // per_dense))):
        dense = {
            "kind": "dense",
            "dataset": {"name": "digits", "size": 28},
            "model": {"name": "lenet_300_100"},
            "train": {"epochs": 2, "lr": 0.05},
            "seed": {"init": d, "data": d},
        }
        d_hash = _write_run(results, dense, ["model.pt", "snapshots.pt"], {}, rng)
        d_dir = run_dir(results, "dense", d_hash)
        keys.append(("dense", d_hash))
        for sparsity in SPARSITIES:
            prune = {
                "kind": "prune",
                "parents": {"source": f"dense/{d_hash}"},
                "method": "magnitude",
                "sparsity": sparsity,
                "seed": 0,
            }
            p_hash = _write_run(results, prune, ["mask.pt"], {"source": d_dir}, rng)
            branch = {
                "kind": "branch",
                "parents": {"dense": f"dense/{d_hash}", "prune": f"prune/{p_hash}"},
                "type": "finetune",
                "seed": {"init": d + 1_000_003, "data": d},
            }
            b_hash = _write_run(
                results,
                branch,
                ["model.pt", "mask.pt"],
                {"dense": d_dir, "prune": run_dir(results, "prune", p_hash)},
                rng,
            )
            keys += [("prune", p_hash), ("branch", b_hash)]
    tables = []
    for t, start in enumerate(range(0, len(keys), RUNS_PER_TABLE)):
        rows = [{"kind": k, "run": h} for k, h in keys[start : start + RUNS_PER_TABLE]]
        table = results / "tables" / "scale" / f"exp{t}.csv"
        manifest = table.with_name(f"exp{t}.manifest.json")
        write_json(manifest, {"experiment": f"exp{t}", "rows": rows})
        table.parent.mkdir(parents=True, exist_ok=True)
        table.write_text("kind,run\n" + "".join(f"{r['kind']},{r['run']}\n" for r in rows))
        parents = {f"{r['kind']}/{r['run']}": run_dir(results, r["kind"], r["run"]) for r in rows}
        record = provenance.build({"table": table}, parents=parents, inputs=[manifest], relative_to=results)
        write_json(table.with_name(f"exp{t}.provenance.json"), record)
        tables.append(table)
    for f, start in enumerate(range(0, len(tables), TABLES_PER_FIGURE)):
        png = results / "figures" / "scale" / f"fig{f}.png"
        png.parent.mkdir(parents=True, exist_ok=True)
        png.write_bytes(rng.randbytes(2048))
        record = provenance.build(
            {"png": png},
            inputs=tables[start : start + TABLES_PER_FIGURE],
            relative_to=results,
            extra={"figure": f"fig{f}"},
        )
        write_json(png.with_name(f"fig{f}.provenance.json"), record)
    return len(keys)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10_000)
    parser.add_argument("--keep", help="build the tree here and keep it (default: a temporary folder)")
    args = parser.parse_args()
    base = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="audit-scale-"))
    results = base / "results"
    try:
        if not results.exists():
            started = time.perf_counter()
            count = build_tree(results, args.runs)
            print(f"built {count} runs in {time.perf_counter() - started:.1f} s", file=sys.stderr)
        report = audit(results)
        if report.findings:
            print("\n".join(report.lines()[:10]), file=sys.stderr)
        print(
            f"audit_scale: {report.runs} runs, {report.tables} tables, {report.figures} figures, "
            f"{report.files_hashed} files hashed once: {report.seconds:.2f} s = {report.runs / report.seconds:.0f} "
            f"runs/s ({len(report.errors)} errors, {len(report.warnings)} warnings; {os.cpu_count()} CPUs)"
        )
        return 0 if report.ok else 1
    finally:
        if not args.keep:
            shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
