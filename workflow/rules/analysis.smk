# Runs -> tidy tables (one per experiment) -> figures. Figures read only tables.


localrules:
    manifest,
    aggregate,
    figure,


rule manifest:
    output:
        f"{RESULTS}/tables/{{suite}}/{{experiment}}.manifest.json",
    log:
        f"{RESULTS}/tables/{{suite}}/logs/{{experiment}}.manifest.log",
    conda:
        "../envs/prunelab.yaml"
    params:
        rows=experiment_rows,
    run:
        from prunelab.storage import write_json

        write_json(
            output[0], {"experiment": wildcards.experiment, "rows": params.rows}
        )


rule aggregate:
    input:
        manifest=f"{RESULTS}/tables/{{suite}}/{{experiment}}.manifest.json",
        runs=experiment_runs,
    output:
        table=f"{RESULTS}/tables/{{suite}}/{{experiment}}.csv",
        provenance=f"{RESULTS}/tables/{{suite}}/{{experiment}}.provenance.json",
    log:
        f"{RESULTS}/tables/{{suite}}/logs/{{experiment}}.log",
    conda:
        "../envs/prunelab.yaml"
    shell:
        "python -m prunelab aggregate --manifest {input.manifest} --out {output.table} "
        "> {log} 2>&1"


rule figure:
    input:
        figure_tables,
    output:
        png=f"{RESULTS}/figures/{{suite}}/{{figure}}.png",
        pdf=f"{RESULTS}/figures/{{suite}}/{{figure}}.pdf",
        provenance=f"{RESULTS}/figures/{{suite}}/{{figure}}.provenance.json",
    log:
        f"{RESULTS}/figures/{{suite}}/logs/{{figure}}.log",
    conda:
        "../envs/prunelab.yaml"
    params:
        spec=figure_spec,
    shell:
        "python -m prunelab figure --spec {params.spec:q} --tables {input} --out {output.png} "
        "--name {wildcards.figure} > {log} 2>&1"
