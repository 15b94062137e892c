"""Golden run hashes of the demo and of every shipped suite config.

A run's hash names its directory, so a hash that moves silently throws away every cached result behind it.
Refactors must keep these lists exactly; a change that renames runs on purpose (new decisive spec field,
new seeding) regenerates the file in the same commit and says why in its message:

    python tests/golden_hashes.py
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from golden_hashes import CONFIGS, GOLDEN, planned_hashes

PINNED = json.loads(GOLDEN.read_text(encoding="utf-8"))


def test_every_shipped_config_is_pinned():
    assert sorted(PINNED) == sorted(CONFIGS)


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_run_hashes_match_the_golden_list(name):
    now = planned_hashes(CONFIGS[name])
    pinned = PINNED[name]
    gone = sorted(set(pinned) - set(now))
    new = sorted(set(now) - set(pinned))
    assert not gone and not new, (
        f"{name}: {len(gone)} pinned run(s) no longer planned (e.g. {gone[:3]}), {len(new)} new "
        f"(e.g. {new[:3]}); if the rename is deliberate, run tests/golden_hashes.py and say why")
    assert now == pinned   # same hashes, same kinds
