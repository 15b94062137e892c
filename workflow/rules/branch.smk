# Branches after a mask: fine-tune, weight/LR rewinding, lottery ticket, re-init, Scratch-E/B.


rule branch:
    input:
        parent_inputs,
    output:
        run_outputs("branch"),
    log:
        run_log("branch", "branch.log"),
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
        "python -m prunelab branch --spec {params.spec:q} --run-dir {params.run_dir} --threads {threads} > {log} 2>&1"
