"""Rule provenance_summary: the report's copy of the resolved config and the provenance summary of every run,
table and figure (prunelab.analysis.run_origins)."""

from prunelab.analysis.run_origins import write_all
from prunelab.jobs.runtime import result_config

job = snakemake  # noqa: F821 (the object Snakemake gives a script)
write_all(
    result_config(job.config),
    job.input.tables,
    job.input.figures,
    job.params.results,
    job.output.summary,
    job.output.config,
    job.log[0],
)
