# prunelab workflow: dense training -> pruning -> branches -> tables -> figures, every job cached by the hash
# of its fully-resolved run spec. Default config: config.yaml (embedded data, CPU). Paper suites:
#   snakemake --configfile workflow/experiments/<suite>.yaml --cores all
from snakemake.exceptions import WorkflowError
from snakemake.utils import min_version, validate

min_version("9.0")


# --configfile replaces the demo config instead of being merged into it
if not config:

    configfile: "config.yaml"


# errors name the config file, then the key (the last --configfile wins where several are given)
CONFIG_SOURCE = workflow.configfiles[-1] if workflow.configfiles else "config"

try:  # a combined suite names the suites it runs (include:); merged in place, as Snakemake reads `config`
    from prunelab.config.includes import expand_includes
    from prunelab.errors import ConfigError

    expanded = expand_includes(config, CONFIG_SOURCE)
except ConfigError as error:
    raise WorkflowError(str(error)) from None
if expanded is not config:
    config.clear()
    config.update(expanded)

try:
    validate(config, "workflow/schemas/config.schema.yaml")
except WorkflowError as error:
    from prunelab.config.validation import validation_error_line

    raise WorkflowError(validation_error_line(error, CONFIG_SOURCE)) from None


include: "workflow/rules/common.smk"
include: "workflow/rules/data.smk"
include: "workflow/rules/train.smk"
include: "workflow/rules/prune.smk"
include: "workflow/rules/branch.smk"
include: "workflow/rules/analysis.smk"
include: "workflow/rules/audit.smk"


rule all:
    default_target: True
    input:
        FIGURES,
        TABLES,
        RUN_PROVENANCE,
        AUDIT_REPORT,
        REPORT_PROVENANCE,
        REPLICATION,
