"""``prunelab`` command line: the job steps Snakemake runs, plus tools for people (validate, plan, audit, gc ...).

Every subcommand that fails for a reason the user can fix prints one line ``prunelab: <what and where>``
and exits with status 2; anything else is a bug and keeps its traceback. Results go to stdout, so that
``> file`` keeps all of them; stderr is for the tool's own failures. Output cut off by a reader that stops
early (``| head``) ends quietly with status 141, as a shell reports a program stopped by SIGPIPE; Ctrl-C
ends with one line and status 130.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from prunelab.errors import ConfigError, PrunelabError
from prunelab.records import layout

BROKEN_PIPE = 128 + 13  # the exit status of a process stopped by SIGPIPE, as a shell reports it


def _spec_arg(text: str) -> dict:
    """``--spec`` takes inline JSON or ``@path/to/spec.json``."""
    try:
        if text.startswith("@"):
            return json.loads(Path(text[1:]).read_text(encoding="utf-8"))
        return json.loads(text)
    except (OSError, json.JSONDecodeError) as exc:
        raise ConfigError(f"--spec: not a JSON spec ({exc})") from None


def _runtime(args):
    from prunelab.jobs.runtime import Runtime

    def given(name: str):
        """An option's value; None (the environment's or the default) where unset or not an option of the command."""
        value = getattr(args, name, None)
        return None if value is False else value  # a flag left off changes nothing

    return Runtime.from_environment(
        results=args.results,
        data_root=args.data_root,
        device=args.device,
        threads=args.threads,
        checkpoint_every=given("checkpoint_every"),
        keep_train_state=given("keep_train_state"),
        deterministic=False if args.nondeterministic else None,
        cudnn_benchmark=given("cudnn_benchmark"),
        on_divergence=given("on_divergence"),
        compile=given("compile"),
        processes=given("processes"),
    )


def _add_runtime(p: argparse.ArgumentParser, training: bool) -> None:
    p.add_argument("--spec", required=True, help="resolved run spec: JSON text or @file")
    p.add_argument("--run-dir", required=True, help="results/runs/{kind}/{hash}")
    _add_runtime_options(p, training)


def _add_runtime_options(p: argparse.ArgumentParser, training: bool = True) -> None:
    """How a job runs; ``training``: also the options of the jobs that train (checkpoints, DDP, compile)."""
    env = "default from PRUNELAB_%s (the workflow sets it from the config)"
    p.add_argument("--results", help="results root, where parents are found; " + env % "RESULTS")
    p.add_argument("--data-root", help="folder holding the datasets; " + env % "DATA_ROOT")
    p.add_argument("--device", choices=["auto", "cpu", "cuda"], help="where to compute; " + env % "DEVICE")
    p.add_argument("--threads", type=int, help="torch CPU threads (0: torch's default)")
    p.add_argument("--nondeterministic", action="store_true", help="allow non-deterministic CUDA kernels")
    p.add_argument("--cudnn-benchmark", action="store_true", help="cudnn autotuning (breaks bit-exactness)")
    if not training:
        return
    p.add_argument(
        "--checkpoint-every", help="resume-checkpoint interval, e.g. 1ep or 500it; " + env % "CHECKPOINT_EVERY"
    )
    p.add_argument("--keep-train-state", action="store_true", help="keep train_state.pt after success")
    p.add_argument(
        "--on-divergence",
        choices=["fail", "record"],
        help="a NaN/inf loss stops the job (fail) or is recorded as the run's outcome; " + env % "ON_DIVERGENCE",
    )
    p.add_argument("--processes", type=int, help="DDP ranks of a training job (torchrun); " + env % "PROCESSES")
    p.add_argument(
        "--compile",
        action="store_true",
        help="torch.compile the training forward (CUDA graphs on a GPU); " + env % "COMPILE",
    )


def cmd_job(args) -> int | None:
    from prunelab.jobs import kinds as jobs
    from prunelab.plan.resources import ddp_ranks
    from prunelab.training import distributed

    runner = {"train": jobs.run_dense, "prune": jobs.run_prune, "branch": jobs.run_branch}[args.command]
    rt, spec = _runtime(args), _spec_arg(args.spec)
    ranks = ddp_ranks(spec, rt.processes)
    if ranks > 1 and not distributed.is_rank():  # the job's own process: start the ranks, which run the rest
        return distributed.launch(args.argv, ranks)
    with distributed.joined(rt.device) as world:
        rt.threads = max(1, rt.threads // world.size) if rt.threads else 0  # --threads is the whole job's
        # every rank computes the same losses and metrics: the job's log gets rank 0's lines once
        runner(spec, args.run_dir, rt, log=jobs.log if world.writer else (lambda message: None))
    return None


def cmd_train_group(args) -> None:
    from prunelab.jobs.grouped_run import run_dense_group

    specs = _spec_arg(args.specs)
    if not isinstance(specs, list):
        raise ConfigError("--specs: expected a JSON list of dense run specs")
    run_dense_group(specs, args.group_dir, _runtime(args))


def cmd_data(args) -> None:
    from prunelab.data.vision import VISION_SETS, provide

    if args.dataset not in VISION_SETS:
        raise ConfigError(f"data: '{args.dataset}' is no torchvision dataset (known: {', '.join(VISION_SETS)})")
    provide(args.dataset, args.data_root, args.download)


def cmd_aggregate(args) -> None:
    from prunelab.analysis.aggregate import write_table

    table = write_table(args.manifest, args.results, args.out)
    print(f"{args.out}: {len(table)} rows", file=sys.stderr)


def cmd_figure(args) -> None:
    from prunelab.analysis.figures import draw

    draw(_spec_arg(args.spec), args.tables, args.out, args.results, args.name, args.replication)


def cmd_validate(args) -> None:
    from prunelab.config.validation import load_config
    from prunelab.plan.build import build_plan

    plan = build_plan(load_config(args.config), args.config)
    counts = {kind: len(plan.hashes(kind)) for kind in ("dense", "prune", "branch")}
    print(
        f"{args.config}: valid; runs: "
        + ", ".join(f"{n} {k}" for k, n in counts.items())
        + f"; {len(plan.experiments)} experiment table(s), {len(plan.figures)} figure(s)"
    )


def cmd_plan(args) -> None:
    from prunelab.config.validation import load_config
    from prunelab.plan.build import build_plan
    from prunelab.records.describe import describe_spec, plan_status
    from prunelab.records.tree import ResultsTree

    plan = build_plan(load_config(args.config), args.config)
    tree = ResultsTree(args.results or plan.results)
    planned = lambda link: plan.specs.get(link.split("/")[-1])  # noqa: E731 (a parent link's spec, by its hash)
    if not args.json:
        print(f"{'kind':<7} {'run':<16}  {'status':<7}  what (status against {tree.root}/runs)")
    for run_hash, spec in plan.specs.items():
        if args.kind and spec["kind"] != args.kind:
            continue
        status = plan_status(tree, tree.run(f"{spec['kind']}/{run_hash}"))
        if args.json:
            print(json.dumps({"hash": run_hash, "status": status, **spec}, sort_keys=True))
            continue
        print(f"{spec['kind']:<7} {run_hash}  {status:<7}  {describe_spec(spec, planned)}")


def cmd_methods(args) -> None:
    from prunelab.config.fragments import describe
    from prunelab.pruning import methods

    for name, method in sorted(methods().items()):
        print(f"{name:<16} data={'yes' if method.needs_data else 'no ':<3} {method.doc}")
        for key, schema in method.hparams["properties"].items():
            print(f"    {key} {describe(schema)}")


def cmd_audit(args) -> int:
    from prunelab.records.audit import audit

    plan = None
    if args.config:
        from prunelab.config.validation import load_config, validate_config
        from prunelab.plan.build import build_plan

        if args.config.lstrip().startswith("{"):  # the workflow passes the config it runs as JSON text
            source = "--config"
            try:
                config = validate_config(json.loads(args.config), source)
            except json.JSONDecodeError as exc:
                raise ConfigError(f"--config: not a JSON config ({exc})") from None
        else:
            source, config = args.config, load_config(args.config)
        plan = build_plan(config, source)
    root = args.path or (plan.results if plan else "results")
    report = audit(root, plan)
    report.write(args.out_text, args.out_json)
    if args.json:
        print(json.dumps(report.as_dict(), indent=2, sort_keys=True))
    else:
        for line in report.lines():  # every result on stdout, so `> file` keeps the verdict too
            print(line)
        print(report.summary())
    return 0 if report.ok else 1


def cmd_gc(args) -> None:
    from prunelab.config.validation import load_config
    from prunelab.plan.build import build_plan
    from prunelab.records.describe import describe
    from prunelab.records.gc import delete, unplanned
    from prunelab.records.tree import ResultsTree

    plans = [build_plan(load_config(path), path) for path in args.configs]
    tree = ResultsTree(args.results or plans[0].results)
    if not (tree.root / layout.RUNS).is_dir():
        raise ConfigError(f"{tree.root}: not a results tree (no runs/ folder)")
    planned = {f"{spec['kind']}/{run_hash}" for plan in plans for run_hash, spec in plan.specs.items()}
    found = unplanned(tree, planned)
    removable = [entry for entry in found if entry.deletable]
    lines = []  # described before anything is deleted, printed once it is
    for entry in found:
        if entry.deletable:
            verb = "deleted" if args.delete else "delete "
            lines.append(f"{verb}  {entry.run.path}  {describe(tree, entry.run)}")
        else:
            more = f" and {len(entry.held_by) - 1} more" if len(entry.held_by) > 1 else ""
            lines.append(f"keep     {entry.run.path}  {entry.held_by[0]}{more} still depends on it")
    if args.delete:
        delete(found)
    for line in lines:
        print(line)
    kept = len(found) - len(removable)
    print(
        f"gc {tree.root}: {len(found)} run(s) that no given config plans; "
        f"{len(removable)} {'deleted' if args.delete else 'to delete'}, {kept} kept because a table, figure or "
        f"report depends on them" + ("" if args.delete or not removable else "; dry run, --delete removes them")
    )


def cmd_lineage(args) -> None:
    from prunelab.records.lineage import lineage

    tree = lineage(args.target, args.results)
    print(tree.dot() if args.dot else tree.text())


def cmd_show(args) -> None:
    from prunelab.records.describe import resolve_run, show
    from prunelab.records.tree import ResultsTree

    tree = ResultsTree(args.results)
    print(show(tree, resolve_run(tree, args.run)))


def cmd_list(args) -> None:
    import pandas as pd

    from prunelab.records.describe import run_table
    from prunelab.records.tree import ResultsTree

    tree = ResultsTree(args.results)
    if not tree.is_results_tree():
        raise ConfigError(f"{args.results}: not a results tree (no runs/, tables/ or figures/ folder)")
    table = run_table(tree, kind=args.kind, method=args.method, sparsity=args.sparsity, dataset=args.dataset)
    if table.empty:
        print("no runs match")  # a result like any other: on stdout
        return
    with pd.option_context("display.width", 250, "display.max_rows", None, "display.max_columns", None):
        text = table.fillna(
            {c: "-" for c in ("dataset", "model", "method", "scope", "parent", "branch", "code", "device")}
        )
        print(text.to_string(index=False, na_rep="-", float_format=lambda v: f"{v:.4g}"))  # na_rep: numbers


def _add_results(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--results",
        default=os.environ.get("PRUNELAB_RESULTS", "results"),
        help="results root, the folder holding runs/, tables/ and figures/ (default: $PRUNELAB_RESULTS, else results)",
    )


def plain(text: str) -> str:
    """Docstring text as a terminal shows it: reStructuredText's literal markup (double backquotes) removed."""
    return text.replace("``", "")


def cmd_replicate(args) -> None:
    from prunelab.replication.write import summary_lines, write

    missing = [t for t in args.tables if not Path(t).is_file()]
    if missing:
        raise ConfigError(f"{missing[0]}: table not found (--tables)")
    results = write(args.tables, args.suite, args.out, args.results)
    print("\n".join(summary_lines(args.suite, results)))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="prunelab", description=plain(__doc__), formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = parser.add_subparsers(dest="command", required=True)

    def command(name: str, text: str, func) -> argparse.ArgumentParser:
        """A subcommand whose one-line ``text`` is both its entry in ``prunelab --help`` and its own description."""
        p = sub.add_parser(name, help=text, description=text[0].upper() + text[1:] + ".")
        p.set_defaults(func=func)
        return p

    for name, text, training in (
        ("train", "train a dense run", True),
        ("prune", "prune a trained (or initial) network", False),
        ("branch", "train after pruning (fine-tune, rewind, scratch ...)", True),
    ):
        _add_runtime(command(name, text, cmd_job), training)
    p = command("train-group", "train dense runs that differ only in seed together (group_seeds)", cmd_train_group)
    p.add_argument("--specs", required=True, help="JSON list of the member specs, or @file")
    p.add_argument("--group-dir", required=True, help="results/groups/{group hash}")
    _add_runtime_options(p)
    p = command("data", "the workflow's data step: download a dataset, or check that it is in place", cmd_data)
    p.add_argument("dataset", help="mnist, fashion_mnist, cifar10 or cifar100")
    p.add_argument("--data-root", required=True, help="the config's data_root")
    p.add_argument("--download", action="store_true", help="download with torchvision (else only check)")
    p = command("aggregate", "runs of one experiment -> tidy CSV", cmd_aggregate)
    p.add_argument("--manifest", required=True, help="the experiment's .manifest.json: its rows and their runs")
    _add_results(p)
    p.add_argument("--out", required=True, help="CSV path; the provenance sidecar goes beside it")
    p = command("figure", "tables -> PNG + PDF figure, CSV of its values, report summary", cmd_figure)
    p.add_argument("--spec", required=True, help="figure spec: JSON text or @file")
    p.add_argument("--tables", nargs="+", required=True, help="the experiment tables (CSV) the figure plots")
    p.add_argument("--out", required=True, help="PNG path; the PDF, CSV, summary and provenance go beside it")
    _add_results(p)
    p.add_argument("--name", default="", help="the figure's name in the config (for its summary)")
    p.add_argument("--replication", help="the suite's replication CSV: the summary names claims and verdicts")
    p = command("replicate", "tables -> did it replicate? one verdict per claim and cell (CSV + .md)", cmd_replicate)
    p.add_argument("--tables", nargs="+", required=True, help="the suite's experiment tables (CSV)")
    p.add_argument("--suite", required=True, help="the suite whose claims are tested (the config's suite)")
    p.add_argument("--out", required=True, help="CSV path; the .md and provenance go beside it")
    _add_results(p)
    p = command("validate", "check a suite config and count its runs", cmd_validate)
    p.add_argument("config", help="suite config (YAML)")
    p = command("plan", "list the runs a suite config defines, each done, stale or missing", cmd_plan)
    p.add_argument("config", help="suite config (YAML)")
    p.add_argument("--results", help="results root to check the runs against (default: the config's results)")
    p.add_argument("--kind", choices=["dense", "prune", "branch"], help="only runs of this kind")
    p.add_argument("--json", action="store_true", help="one JSON object per run (hash, status and spec)")
    command("methods", "list pruning methods and their hyperparameters", cmd_methods)
    p = command("audit", "re-hash every output and check every provenance link", cmd_audit)
    p.add_argument("path", nargs="?", help="results root (default: the config's results, else results/)")
    p.add_argument(
        "--config",
        help="also compare with this suite config's plan (stale and missing runs): a config file, or its JSON text",
    )
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.add_argument("--out-text", help="also write the text report (problem lines + summary) here")
    p.add_argument("--out-json", help="also write the JSON report here")
    p = command("gc", "run directories that no given config plans any more (dry unless --delete)", cmd_gc)
    p.add_argument("configs", nargs="+", metavar="CONFIG", help="every suite config whose runs are to stay")
    p.add_argument("--results", help="results root (default: the first config's results)")
    p.add_argument(
        "--delete",
        action="store_true",
        help="remove them; runs a table, figure or report still depends on are always kept",
    )
    p = command("lineage", "the tree from a figure or table down to its dense training runs", cmd_lineage)
    p.add_argument("target", help="a figure (.png/.pdf), a table (.csv), their sidecar, or a run")
    p.add_argument("--results", help="results root (default: found above TARGET, else results/)")
    p.add_argument("--dot", action="store_true", help="Graphviz DOT instead of a text tree")
    p = command("show", "one run: spec, key metrics, provenance", cmd_show)
    p.add_argument("run", help="hash prefix or run directory")
    _add_results(p)
    p = command("list", "runs under the results tree as a table", cmd_list)
    _add_results(p)
    p.add_argument("--kind", choices=["dense", "prune", "branch"], help="only runs of this kind")
    p.add_argument("--method", help="only runs pruned with this method (prune runs and their branches)")
    p.add_argument("--sparsity", type=float, help="target sparsity, e.g. 0.9")
    p.add_argument("--dataset", help="only runs on this dataset")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run one subcommand. Output piped into a reader that stops early (``prunelab plan config.yaml | head``)
    ends the command quietly with status 141, what a shell reports for a program stopped by SIGPIPE, so a
    pipeline under ``set -o pipefail`` treats it like any other tool cut off by ``head``."""
    args = build_parser().parse_args(argv)
    args.argv = sys.argv[1:] if argv is None else list(argv)  # what a DDP job re-runs under torchrun
    try:
        status = args.func(args) or 0
        sys.stdout.flush()  # inside the try: a reader gone at the last flush is the same broken pipe
        return status
    except BrokenPipeError:
        # stdout's buffer still holds text: point its descriptor at /dev/null, so that flushing it at exit
        # does not raise again ("Exception ignored ... BrokenPipeError")
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return BROKEN_PIPE
    except PrunelabError as exc:
        print(f"prunelab: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        from prunelab.cli.handoff import interrupted

        return interrupted()


if __name__ == "__main__":
    sys.exit(main())
