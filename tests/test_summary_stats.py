"""Per-group summaries on synthetic values with known answers: sample std and the 95 % t-interval."""

import math

import pandas as pd
import pytest

from prunelab.analysis.stats import summarise


def rows(values, status=None):
    status = status or ["ok"] * len(values)
    return pd.DataFrame({"g": "a", "v": values, "status": status})


def test_sample_std_and_t_interval_of_three_seeds():
    out = summarise(rows([1.0, 2.0, 3.0]), ["g"], "v").iloc[0]
    assert (out["mean"], out["std"], out["n"]) == (2.0, 1.0, 3)
    t_975_2dof = 0.95 / math.sqrt(2 * 0.975 * 0.025)  # closed form of Student's t quantile for 2 dof
    half = t_975_2dof / math.sqrt(3)  # t · s / √n with s = 1
    assert out["ci_low"] == pytest.approx(2.0 - half, abs=1e-12)
    assert out["ci_high"] == pytest.approx(2.0 + half, abs=1e-12)


def test_one_usable_seed_has_no_interval_and_missing_runs_are_not_averaged():
    out = summarise(rows([5.0, float("nan"), 9.0], ["ok", "ok", "diverged"]), ["g"], "v").iloc[0]
    assert (out["mean"], out["n"], out["missing"]) == (5.0, 1, 2)
    assert math.isnan(out["std"]) and math.isnan(out["ci_low"]) and math.isnan(out["ci_high"])
    assert out["missing_why"] == "diverged ×1, not measured ×1"
