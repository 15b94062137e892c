"""SiPP (Baykal, Liebenwein et al.): the method and its budget search (``method``), empirical sensitivities
and the sample set S (``sensitivity``), the per-layer budget allocation (``allocation``) and importance
sampling (``sampling``); docs/methods.md §2.9."""
