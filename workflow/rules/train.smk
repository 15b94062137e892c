# Dense training: one job per (dense config, seed), named by the hash of its spec.


rule train:
    output:
        run_outputs("dense"),
    log:
        f"{RESULTS}/runs/dense/{{hash}}/logs/train.log",
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
