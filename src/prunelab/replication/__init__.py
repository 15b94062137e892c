"""Did it replicate? Claims as data, intervals over seeds, and one verdict per claim and table cell.

``claim`` defines what a claim is and how it compares; ``claims/`` holds the papers' claims (one module per
paper, discovered); ``select`` turns tidy tables into per-replicate values; ``statistics`` computes intervals,
seeds needed and Holm's adjustment; ``verdict`` applies the rules; ``ledger`` lists where a suite's setting
deviates from each paper's; ``page`` lays out the page that reads without the CSV (Markdown and HTML);
``caption`` gives figure captions their verdict lines; ``write`` writes the CSV, the page and provenance. No
torch here: this runs in the analysis job and in ``prunelab audit``.
"""
