"""The entry points: ``prunelab`` commands (``commands``), the job worker that runs many Snakemake jobs in one
torch-importing process (``worker``, reached through ``handoff``), and what the workflow installs around every
job (``console``: per-job lines and Ctrl-C; ``run_lock``: one run per results directory).

Top layer: may import every other stage; nothing in prunelab imports it (``__main__`` aside).
"""
