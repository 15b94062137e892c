"""The stored plan: what the builder gives, in the same order; rebuilt when the config or the code changes; and a
parse that finds it imports no torch."""

import json
import subprocess
import sys

import pytest
from conftest import ROOT

from prunelab.config.validation import load_config
from prunelab.plan import cache as plan_cache
from prunelab.plan.build import build_plan

CONFIGS = [ROOT / "tests" / "configs" / "tiny.yaml", ROOT / "workflow" / "experiments" / "rethinking.yaml"]


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.stem)
def test_stored_plan_is_the_built_plan_in_the_same_order(path, tmp_path):
    config = load_config(path)
    built = build_plan(config)
    first = plan_cache.cached_plan(config, tmp_path)
    stored = plan_cache.cached_plan(config, tmp_path)
    for plan in (first, stored):
        assert plan.specs == built.specs and list(plan.specs) == list(built.specs)
        assert plan.experiments == built.experiments and plan.figures == built.figures
        assert list(plan.figures) == list(built.figures)
        assert plan.config is config and plan.results == built.results


def test_a_changed_config_or_code_rebuilds(tmp_path, monkeypatch):
    config = load_config(CONFIGS[0])
    plan_cache.cached_plan(config, tmp_path)
    path = tmp_path / "plan-tiny.json"
    stored = json.loads(path.read_text())
    marker = {"kind": "dense", "marker": True}
    path.write_text(json.dumps({**stored, "specs": {"0" * 16: marker}}))
    assert plan_cache.cached_plan(config, tmp_path).specs == {"0" * 16: marker}  # the stored one is what is used
    edited = {**config, "results": "elsewhere"}
    assert plan_cache.cached_plan(edited, tmp_path).specs == build_plan(edited).specs
    path.write_text(json.dumps({**stored, "specs": {"0" * 16: marker}}))
    monkeypatch.setattr(plan_cache, "source_digest", lambda: "another version of the code")
    assert plan_cache.cached_plan(config, tmp_path).specs == build_plan(config).specs
    path.write_text("{not json")
    assert plan_cache.cached_plan(config, tmp_path).specs == build_plan(config).specs


def test_a_parse_that_finds_the_plan_imports_no_torch(tmp_path):
    plan_cache.cached_plan(load_config(CONFIGS[0]), tmp_path)
    code = (
        f"import sys; from prunelab.config.validation import load_config; from prunelab.plan.cache import cached_plan; "
        f"import prunelab.jobs.runtime, prunelab.plan.resources, prunelab.plan.seed_groups, prunelab.analysis.figures; "
        f"plan = cached_plan(load_config({str(CONFIGS[0])!r}), {str(tmp_path)!r}); "
        f"assert plan.specs; print(sorted(m for m in ('torch', 'scipy') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
