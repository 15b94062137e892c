"""Did it replicate? Claims as data, intervals over seeds, and one verdict per claim and table cell.

``claim`` defines what a claim is and how it compares; ``papers/`` holds the papers' claims (one module per
paper, discovered); ``select`` turns tidy tables into per-replicate values; ``statistics`` computes intervals,
seeds needed and Holm's adjustment; ``verdict`` applies the rules; ``ledger`` lists where a suite's setting
deviates from each paper's; ``page`` lays out the page that reads without the CSV (Markdown and HTML);
``caption`` gives figure captions their verdict lines; ``write`` writes the CSV, the page and provenance;
``references`` holds the published numbers claims and figure overlays compare with. No torch here: this runs
in the analysis job and in ``prunelab audit``. Imports only ``records``, ``config`` and the shared modules;
``analysis`` (figures and their captions) builds on it.
"""
