# Audit: once every run, table and figure of the suite exists, re-hash them all against their provenance and
# follow every link (prunelab audit), writing results/audit/<suite>.txt (+ .json) for the report. Its inputs
# are exactly the files it checks, so changing any of them re-audits and nothing else does: a second
# invocation schedules no job. The config travels as JSON (params), so the audit compares the tree with the
# plan this invocation runs, and a config edit re-audits. Problems fail the job (the log keeps the lines).


localrules:
    audit,


rule audit:
    input:
        audited_files,
    output:
        text=str(layout.audit_report(RESULTS, "{suite}")),
        json=str(layout.audit_report(RESULTS, "{suite}", ".json")),
    log:
        str(layout.log(layout.audit_report(RESULTS, "{suite}"), "{suite}.log")),
    conda:
        "../envs/prunelab.yaml"
    params:
        config=RESULT_CONFIG,
    shell:
        "python -m prunelab audit --config {params.config:q} --out-text {output.text} "
        "--out-json {output.json} > {log} 2>&1"
