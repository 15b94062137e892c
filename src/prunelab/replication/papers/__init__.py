"""The papers' claims: one module per paper, each exporting ``CLAIMS``, found by module discovery.

Adding a paper's claims is adding a module; ``all_claims()`` collects them, checking that ids are unique.
"""

from __future__ import annotations

from prunelab.discovery import modules
from prunelab.replication.claim import Claim


def all_claims() -> list[Claim]:
    claims: list[Claim] = []
    for module in modules(__name__):
        claims += module.CLAIMS
    ids = [c.id for c in claims]
    duplicates = sorted({i for i in ids if ids.count(i) > 1})
    if duplicates:
        raise ValueError(f"claim ids defined twice: {', '.join(duplicates)}")
    return claims
