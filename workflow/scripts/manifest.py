"""Rule manifest: the rows an experiment's table aggregates (from the plan, passed as the rule's params)."""

from prunelab.records.storage import write_json

write_json(
    snakemake.output[0],
    {
        "experiment": snakemake.wildcards.experiment,  # noqa: F821 (Snakemake's)
        "rows": snakemake.params.rows,
    },
)  # noqa: F821
