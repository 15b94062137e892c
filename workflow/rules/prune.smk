# Pruning: score + select -> mask. One rule for every method; the method and its hparams are data in the spec.


rule prune:
    input:
        parent_inputs,
    output:
        run_outputs("prune"),
    log:
        run_log("prune", "prune.log"),
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
        "python -m prunelab prune --spec {params.spec:q} --run-dir {params.run_dir} --threads {threads} > {log} 2>&1"
