# Dense training: one job per (dense config, seed), named by the hash of its spec; or, with
# runtime.group_seeds, one job per seed group (runs differing only in seed), trained in lockstep, which writes
# every member's run directory and then its marker (a checkpoint, see common.smk).

if GROUP_SEEDS:

    checkpoint train_group:
        input:
            group_data,
        output:
            str(layout.group_dir(RESULTS, "{group}") / layout.GROUP_MARKER),
        log:
            str(layout.group_dir(RESULTS, "{group}") / layout.LOGS / "train_group.log"),
        conda:
            "../envs/prunelab.yaml"
        threads: group_threads
        resources:
            mem_mb=group_mem_mb,
            runtime=group_runtime,
            gpu=group_gpu,
        params:
            specs=group_specs_param,
            group_dir=lambda wildcards, output: os.path.dirname(output[0]),
        shell:
            "python -m prunelab train-group --specs {params.specs:q} --group-dir {params.group_dir} "
            "--threads {threads} > {log} 2>&1"

else:

    rule train:
        input:
            dense_data,
        output:
            run_outputs("dense"),
        log:
            run_log("dense", "train.log"),
        group:
            pack_group
        conda:
            "../envs/prunelab.yaml"
        threads: job_threads
        resources:
            mem_mb=job_mem_mb,
            runtime=job_runtime,
            gpu=job_gpu,
            pack_slot=1,
        params:
            spec=spec_param,
            run_dir=run_dir,
        shell:
            "python -m prunelab train --spec {params.spec:q} --run-dir {params.run_dir} --threads {threads} > {log} 2>&1"
