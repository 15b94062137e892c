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
        localrule: True
        params:
            dataset=_dataset,
            root=DATA_ROOT,
            download="--download" if _download else "",
        shell:
            "python -m prunelab data {params.dataset} --data-root {params.root:q} {params.download}"
