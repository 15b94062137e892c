# Data: one job per torchvision dataset the experiments train on; its outputs are the files torchvision reads
# under data_root, and every dense training job of that dataset takes them as inputs. With `download: true` the
# job downloads them (on the submitting host: compute nodes are often offline); otherwise it only checks that
# they are there, and the onstart preflight (common.smk) has already stopped a run whose files are missing.
# `update` keeps files a person placed: Snakemake neither deletes them before the job nor after a failure.

for _dataset, _download in DATASETS.items():

    rule:
        name:
            data_rule(_dataset)
        output:
            [update(path) for path in DATA_FILES[_dataset]],
        log:
            f"{RESULTS}/data/logs/{_dataset}.log",
        localrule: True
        conda:
            "../envs/prunelab.yaml"
        params:
            dataset=_dataset,
            # a callable: the data root is configuration, not a path this rule derives from its outputs
            root=lambda wildcards: DATA_ROOT,
            download="--download" if _download else "",
        shell:
            "python -m prunelab data {params.dataset} --data-root {params.root:q} {params.download} "
            "> {log} 2>&1"
