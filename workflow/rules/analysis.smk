# Runs -> tidy tables (one per experiment) -> figures -> report. Figures read only tables; the report
# (snakemake --report results/report.html) shows every figure with its caption, plotted values and a
# provenance summary of the runs behind them.
import hashlib
import mimetypes
import re

from prunelab.analysis.figures import check_figures, paper_of
from prunelab.replication.page import CATEGORY as REPLICATION_CATEGORY

# Python's table lacks YAML: without this the report logs "Could not detect mimetype" for config.yaml
mimetypes.add_type("application/yaml", ".yaml")

try:
    check_figures(PLAN.figures)
except PrunelabError as error:
    raise WorkflowError(str(error)) from None

REPORT_PROVENANCE = str(layout.report_file(RESULTS, SUITE, "runs_provenance.csv"))
REPLICATION = str(layout.replication(RESULTS, SUITE))


report: "../report/workflow.rst"


localrules:
    manifest,
    aggregate,
    provenance_summary,
    replication,


rule manifest:
    output:
        str(layout.table(RESULTS, "{suite}", "{experiment}", ".manifest.json")),
    log:
        str(
            layout.log(
                layout.table(RESULTS, "{suite}", "{experiment}"),
                "{experiment}.manifest.log",
            )
        ),
    conda:
        "../envs/prunelab.yaml"
    params:
        rows=experiment_rows,
    # a script, not run: Snakemake writes a job's start marker after submitting it, so an in-process run:
    # job of a few ms ends before it starts and its negative runtime breaks the report's (log) runtime plot
    script:
        "../scripts/manifest.py"


rule aggregate:
    input:
        manifest=str(layout.table(RESULTS, "{suite}", "{experiment}", ".manifest.json")),
        runs=experiment_runs,
    output:
        table=str(layout.table(RESULTS, "{suite}", "{experiment}")),
        provenance=str(
            layout.table(RESULTS, "{suite}", "{experiment}", layout.SIDECAR_SUFFIX)
        ),
    log:
        str(
            layout.log(
                layout.table(RESULTS, "{suite}", "{experiment}"), "{experiment}.log"
            )
        ),
    conda:
        "../envs/prunelab.yaml"
    shell:
        "python -m prunelab aggregate --manifest {input.manifest} --out {output.table} "
        "> {log} 2>&1"


# Which rule makes which figure: one rule figure_<type> per figure type in use (generated here, nothing to add
# for a new type), so the report files each figure under its type's paper; the wildcard constraint routes each
# figure name to its type's rule. The caption (figure.rst) includes the summary that `prunelab figure` writes:
# the type's caption paragraph with this figure's options, then what was run.
for _type in sorted({spec["type"] for spec in PLAN.figures.values()}):

    rule:
        name:
            f"figure_{_type}"
        input:
            tables=figure_tables,
            replication=str(layout.replication(RESULTS, "{suite}")),
        output:
            png=report(
                str(layout.figure(RESULTS, "{suite}", "{figure}")),
                caption="../report/figure.rst",
                category=paper_of(_type),
                subcategory="{figure}",
            ),
            csv=report(
                str(layout.figure(RESULTS, "{suite}", "{figure}", ".csv")),
                caption="../report/values.rst",
                category=paper_of(_type),
                subcategory="{figure}",
            ),
            pdf=str(layout.figure(RESULTS, "{suite}", "{figure}", ".pdf")),
            summary=str(layout.figure(RESULTS, "{suite}", "{figure}", ".summary.rst")),
            provenance=str(
                layout.figure(RESULTS, "{suite}", "{figure}", layout.SIDECAR_SUFFIX)
            ),
        log:
            str(
                layout.log(
                    layout.figure(RESULTS, "{suite}", "{figure}"), "{figure}.log"
                )
            ),
        wildcard_constraints:
            figure="|".join(
                re.escape(name)
                for name, spec in PLAN.figures.items()
                if spec["type"] == _type
            ),
        localrule: True
        conda:
            "../envs/prunelab.yaml"
        params:
            spec=figure_spec,
        shell:
            "python -m prunelab figure --spec {params.spec:q} --tables {input.tables} --out {output.png} "
            "--name {wildcards.figure} --replication {input.replication} > {log} 2>&1"


# The suite's provenance for the report: the resolved config (defaults filled, i.e. what ran) and who/what
# produced every run, table and figure. The config is a param so that editing it refreshes the copy.
rule provenance_summary:
    input:
        tables=TABLES,
        figures=FIGURES,
    output:
        summary=report(
            str(layout.report_file(RESULTS, "{suite}", "runs_provenance.csv")),
            caption="../report/provenance.rst",
            category="Provenance",
        ),
        config=report(
            str(layout.report_file(RESULTS, "{suite}", "config.yaml")),
            caption="../report/config.rst",
            category="Provenance",
        ),
        provenance=str(
            layout.report_file(RESULTS, "{suite}", "runs_provenance.provenance.json")
        ),
    log:
        str(
            layout.report_file(
                RESULTS, "{suite}", f"{layout.LOGS}/runs_provenance.log"
            )
        ),
    conda:
        "../envs/prunelab.yaml"
    params:
        # a digest, not the config itself: the report lists params as "Job parameters", and the config is
        # shown readable as the config.yaml entry; any change of the config still changes this param
        config_sha256=hashlib.sha256(RESULT_CONFIG.encode()).hexdigest()[:16],
        # the results folder as a function of the job, as Snakemake's lint asks of path prefixes
        results=lambda wildcards: RESULTS,
    # a script, not run: see rule manifest (a run: job's runtime reads negative in the report)
    script:
        "../scripts/provenance_summary.py"


# Did it replicate? Every claim of prunelab.replication.papers tested on the suite's tables: one verdict per
# claim and cell (CSV), the page that reads without it (Markdown, and HTML as the report's first entry), and a
# one-screen summary when the workflow ends.
rule replication:
    input:
        TABLES,
    output:
        html=report(
            str(layout.replication(RESULTS, "{suite}", ".html")),
            caption="../report/replication.rst",
            category=REPLICATION_CATEGORY,
        ),
        csv=report(
            str(layout.replication(RESULTS, "{suite}")),
            caption="../report/replication_csv.rst",
            category=REPLICATION_CATEGORY,
        ),
        md=str(layout.replication(RESULTS, "{suite}", ".md")),
        provenance=str(layout.replication(RESULTS, "{suite}", layout.SIDECAR_SUFFIX)),
    log:
        str(layout.log(layout.replication(RESULTS, "{suite}"), "{suite}.log")),
    conda:
        "../envs/prunelab.yaml"
    shell:
        "python -m prunelab replicate --tables {input} --suite {wildcards.suite} --out {output.csv} "
        "> {log} 2>&1"
