"""Records: what a run is and where it lives. Run specs and their hashes (``run_specs``, ``hashing``, the set
of planned runs in ``run_plan``), the results layout (``layout``), atomic writes (``storage``), provenance
sidecars (``provenance``), reading a results tree (``tree``), ``prunelab show``/``list`` (``describe``), the
audit (``audit``), a figure's lineage (``lineage``) and garbage collection (``gc``).

Torch-free (``storage`` imports torch only inside the functions that save tensors). May import only ``config``
and the shared modules (``errors``, ``progress``, ``discovery``); every other stage builds on it.
"""
