# Audit: once every run, table and figure of the suite exists, re-hash them all against their provenance and
# follow every link (prunelab audit), writing results/audit/<suite>.txt (+ .json) for the report. Its inputs
# are exactly the files it checks, so changing any of them re-audits and nothing else does: a second
# invocation schedules no job. The config travels as JSON (params), so the audit compares the tree with the
# plan this invocation runs, and a config edit re-audits. Problems fail the job (the log keeps the lines).


localrules:
    audit,


AUDIT_REPORT = f"{RESULTS}/audit/{SUITE}.txt"
ANALYSIS_FILES = (
    [
        f"{RESULTS}/tables/{SUITE}/{name}.{ext}"
        for name in PLAN.experiments
        for ext in ("csv", "manifest.json", "provenance.json")
    ]
    + [
        f"{RESULTS}/figures/{SUITE}/{name}.{ext}"
        for name in PLAN.figures
        for ext in ("png", "pdf", "csv", "summary.rst", "provenance.json")
    ]
    + [
        f"{RESULTS}/report/{SUITE}/{name}"
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
        for path in run_files(
            run_hash, (*RUN_FILES[PLAN.kind(run_hash)], "provenance.json")
        )
    ]
    return runs + ANALYSIS_FILES


rule audit:
    input:
        audited_files,
    output:
        text=f"{RESULTS}/audit/{{suite}}.txt",
        json=f"{RESULTS}/audit/{{suite}}.json",
    log:
        f"{RESULTS}/audit/logs/{{suite}}.log",
    conda:
        "../envs/prunelab.yaml"
    params:
        config=RESULT_CONFIG,
    shell:
        "python -m prunelab audit --config {params.config:q} --out-text {output.text} "
        "--out-json {output.json} > {log} 2>&1"
