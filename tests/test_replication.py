"""Claims, intervals and verdicts on synthetic result sets whose answers are known by construction."""

import dataclasses
import json

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from prunelab.replication import statistics as st
from prunelab.replication.claim import Claim, Select, Setting, Target
from prunelab.replication.papers import all_claims
from prunelab.replication.papers.sipp import CLAIMS as SIPP_CLAIMS
from prunelab.replication.write import replicate

SIPP_VS_WT = next(c for c in SIPP_CLAIMS if c.id == "sipp_det_vs_wt_pruned")


def _dense(run, seed, dataset="mnist", epochs=200.0, model="lenet_300_100"):
    return {
        "stage": "dense",
        "dense": "net",
        "model": model,
        "dataset": dataset,
        "seed": seed,
        "dense_run": run,
        "status": "ok",
        "test_acc": 98.0,
        "val_acc": 98.0,
        "epochs": epochs,
        "ops": 1e6,
        "params": 1e5,
        "level": 0,
        "target_sparsity": 0.0,
        "hparams": None,
    }


def _pruned(run, seed, method, acc, sparsity=0.9, scope="global", dataset="mnist", **extra):
    return {
        "stage": "pruned",
        "dense": "net",
        "model": "lenet_300_100",
        "dataset": dataset,
        "seed": seed,
        "dense_run": run,
        "status": "ok",
        "method": method,
        "scope": scope,
        "at": "final",
        "level": 0,
        "target_sparsity": sparsity,
        "test_acc": acc,
        "val_acc": acc,
        "epochs": 0.0,
        "ops": 5e5,
        "params": 1e4,
        "hparams": "{}",
        **extra,
    }


def _sipp_table(det, wt, seeds=None):
    """Dense runs d0, d1, … with SiPP-det and WT accuracies right after pruning to 90 %."""
    seeds = seeds or list(range(len(det)))
    rows = []
    for i, (a, b) in enumerate(zip(det, wt)):
        rows += [
            _dense(f"d{i}", seeds[i]),
            _pruned(f"d{i}", seeds[i], "sipp_det", a),
            _pruned(f"d{i}", seeds[i], "magnitude", b),
        ]
    return pd.DataFrame(rows)


def _only(results, claim_id):
    return results[results["claim"] == claim_id].iloc[0]


def test_a_violated_claim_reads_contradicted():
    table = _sipp_table(det=[60.0, 61.0, 59.5, 60.5], wt=[80.0, 80.5, 79.0, 80.2])
    results, _ = replicate(table, [SIPP_VS_WT])
    row = _only(results, SIPP_VS_WT.id)
    assert row["verdict"] == "contradicted" and row["n"] == 4 and row["ci_high"] < 0
    assert "Holm" in row["why"]


def test_a_claim_that_holds_reads_holds():
    results, _ = replicate(_sipp_table(det=[85.0, 86.0, 84.5], wt=[80.0, 80.5, 79.0]), [SIPP_VS_WT])
    assert _only(results, SIPP_VS_WT.id)["verdict"] == "holds"


def test_one_seed_reads_inconclusive_whatever_the_gap():
    results, _ = replicate(_sipp_table(det=[10.0], wt=[90.0]), [SIPP_VS_WT])
    row = _only(results, SIPP_VS_WT.id)
    assert row["verdict"] == "inconclusive" and row["n"] == 1 and "one seed" in row["why"]


def test_a_missing_run_reads_not_run_and_says_which():
    table = _sipp_table(det=[85.0, 86.0], wt=[80.0, 80.5])
    table = table[table["method"] != "magnitude"]
    row = _only(replicate(table, [SIPP_VS_WT])[0], SIPP_VS_WT.id)
    assert row["verdict"] == "not run" and "method=magnitude" in row["why"]


def _published_claim(value=93.1, std=0.1, runs=5, tolerance=0.5):
    return Claim(
        "published_test",
        "paper",
        "Table 1",
        "unpruned accuracy",
        "test_acc",
        "equivalent",
        ((1.0, Select.of()),),
        tolerance,
        "test",
        "V:test",
        Setting(("mnist",), 100, runs),
        Select.of(stage="dense"),
        ("model", "dataset"),
        target=Target(value, std, runs),
    )


def test_overlapping_intervals_are_not_reproduced_without_equivalence():
    table = pd.DataFrame([{**_dense(f"d{i}", i), "test_acc": acc} for i, acc in enumerate([92.0, 93.0, 94.0])])
    claim = _published_claim()
    ours = stats.t.ppf(0.975, 2) * np.std([92.0, 93.0, 94.0], ddof=1) / np.sqrt(3)
    published = stats.t.ppf(0.975, 4) * 0.1 / np.sqrt(5)
    assert abs(93.0 - 93.1) < ours + published  # the two intervals overlap ...
    row = _only(replicate(table, [claim])[0], claim.id)
    assert row["verdict"] == "inconclusive"  # ... but the difference's interval leaves ±0.5
    assert row["ci_low"] < -0.5 and row["ci_high"] > 0.5 and "seeds would decide" in row["why"]
    tight = pd.DataFrame([{**_dense(f"d{i}", i), "test_acc": acc} for i, acc in enumerate([93.0, 93.05, 92.95])])
    assert _only(replicate(tight, [claim])[0], claim.id)["verdict"] == "reproduced"


def test_a_published_number_from_another_setting_is_not_comparable():
    table = pd.DataFrame(
        [{**_dense(f"d{i}", i, dataset="digits"), "test_acc": acc} for i, acc in enumerate([93.0, 93.05, 92.95])]
    )
    row = _only(replicate(table, [_published_claim()])[0], "published_test")
    assert row["verdict"] == "not comparable" and "digits" in row["why"]
    one_seed = _only(replicate(table.head(1), [_published_claim()])[0], "published_test")
    assert one_seed["verdict"] == "not comparable"  # the setting decides before the number of seeds


def test_a_published_number_a_stand_in_suite_never_trains_is_not_comparable_and_on_real_data_not_run():
    claim = dataclasses.replace(_published_claim(), scope=Select.of(stage="dense", model="resnet56"))
    other_net = [{**_dense(f"d{i}", i, dataset="digits", model="mlp"), "test_acc": 90.0} for i in range(3)]
    row = _only(replicate(pd.DataFrame(other_net), [claim])[0], claim.id)
    assert row["verdict"] == "not comparable" and "stand-in data (digits)" in row["why"]
    real = pd.DataFrame([{**r, "dataset": "fashion_mnist"} for r in other_net])
    assert _only(replicate(real, [claim])[0], claim.id)["verdict"] == "not run"


def test_paired_interval_is_used_when_sides_share_dense_runs():
    base = np.array([70.0, 80.0, 90.0])  # large dense-to-dense spread, constant gain of ~0.5
    det, wt = base + np.array([0.5, 0.6, 0.4]), base
    paired = stats.ttest_rel(det, wt).confidence_interval()
    unpaired = stats.ttest_ind(det, wt, equal_var=False).confidence_interval()
    assert paired.low > 0 > unpaired.low  # the two intervals disagree on the verdict
    row = _only(replicate(_sipp_table(list(det), list(wt)), [SIPP_VS_WT])[0], SIPP_VS_WT.id)
    assert row["verdict"] == "holds" and "paired" in row["interval"]
    assert row["ci_low"] == pytest.approx(paired.low) and row["ci_high"] == pytest.approx(paired.high)


def test_sides_from_different_dense_runs_get_the_welch_interval():
    a, b = np.array([1.0, 2.0, 4.0]), np.array([0.5, 0.7, 0.2, 0.9])
    interval = st.unpaired_interval([(1.0, a), (-1.0, b)])
    expected = stats.ttest_ind(a, b, equal_var=False).confidence_interval()
    assert interval.low == pytest.approx(expected.low) and interval.high == pytest.approx(expected.high)


def test_published_mean_and_std_over_k_runs_enter_as_a_standard_error():
    part = st.published_part(93.14, 0.12, 5, weight=-1.0)
    assert part.estimate == -93.14 and part.variance == pytest.approx(0.12**2 / 5) and part.dof == 4
    ours = st.sample_part([93.0, 93.2, 93.4])
    expected_dof = (ours.variance + part.variance) ** 2 / (ours.variance**2 / 2 + part.variance**2 / 4)
    assert st.welch_dof([ours, part]) == pytest.approx(expected_dof)


def test_holm_adjustment_matches_a_worked_example():
    # sorted 0.005, 0.01, 0.03, 0.04 → ×4, ×3, ×2, ×1 = 0.02, 0.03, 0.06, 0.04 → monotone 0.02, 0.03, 0.06, 0.06
    adjusted = st.holm([0.01, 0.04, 0.03, 0.005, np.nan])
    assert adjusted[:4] == pytest.approx([0.03, 0.06, 0.06, 0.02]) and np.isnan(adjusted[4])


def test_seeds_needed_is_the_smallest_n_whose_interval_decides():
    n = st.seeds_needed(distance=1.0, per_seed_variance=4.0)
    width = [stats.t.ppf(0.975, k - 1) * 2.0 / np.sqrt(k) for k in (n - 1, n)]
    assert width[0] >= 1.0 > width[1]
    assert st.seeds_needed(distance=0.0, per_seed_variance=4.0) is None


def test_decreasing_claim_tests_every_step():
    claim = next(c for c in all_claims() if c.id == "wang_jsv_decreasing")
    rows = []
    for i in range(3):
        rows.append({**_dense(f"d{i}", i, model="mlp7"), "activation": "linear"})
        for ratio, jsv in [(0.0, 2.5), (0.3, 0.5), (0.6, 0.05)]:
            rows.append(
                {
                    **_pruned(f"d{i}", i, "l1_filter", 50.0, sparsity=ratio),
                    "model": "mlp7",
                    "activation": "linear",
                    "jsv_mean": jsv * (1 + 0.01 * i),
                }
            )
    results, _ = replicate(pd.DataFrame(rows), [claim])
    assert list(results["verdict"]) == ["holds", "holds"]
    assert [c.split("target_sparsity=")[1] for c in results["cell"]] == ["0→0.3", "0.3→0.6"]


def test_every_verified_published_number_is_a_claim_and_no_unverified_one_is():
    from prunelab.replication import references

    ids = {c.id for c in all_claims() if c.target is not None}
    verified = [p for p in references.PUBLISHED if not p.unverified]
    jsv_points = {
        (dict(p.labels)["model"], dict(p.labels)["activation"], dict(p.labels)["pruning_ratio"])
        for p in verified
        if p.quantity == "jsv_mean"
    }
    liu = [p for p in verified if p.quantity != "jsv_mean"]
    unpruned_repeats = sum(1 for p in liu if dict(p.labels).get("column") == "unpruned") // 2
    assert len(ids) == len(jsv_points) + len(liu) - unpruned_repeats
    assert not any("finetune" in i or "vgg16" in i for i in ids)  # recalled (R) numbers stay out


def test_a_figure_caption_names_the_claims_tested_on_its_rows_with_n_and_interval():
    from prunelab.replication.caption import caption_lines

    table = _sipp_table(det=[85.0, 86.0, 84.5], wt=[80.0, 80.5, 79.0]).assign(experiment="methods")
    results, _ = replicate(table, [SIPP_VS_WT])
    assert set(results["rows_from"]) == {"methods/pruned"}
    lines = caption_lines(table, results)
    assert "1 test(s) of 1 claim(s)" in lines[0]
    assert lines[1].startswith("holds: sipp_det_vs_wt_pruned") and "n = 3" in lines[1] and "paired t" in lines[1]
    assert " pp [" in lines[1]  # the estimate carries its unit
    # the same network in another experiment, or the same experiment's other stage, is another figure's rows
    elsewhere = pd.DataFrame(
        {"experiment": ["branches", "methods"], "stage": ["pruned", "branch"], "model": ["lenet_300_100"] * 2}
    )
    assert "no claim" in caption_lines(elsewhere, results)[0]


def test_a_caption_lists_the_claims_of_its_rows_that_could_not_run():
    from prunelab.replication.caption import caption_lines

    weight_level = next(c for c in all_claims() if c.id == "liu_weight_level_scratch_b")
    table = _demo_like()
    results, _ = replicate(table, [SIPP_VS_WT, weight_level])
    branches = table[table["experiment"] == "methods"]
    lines = caption_lines(branches, results)
    assert lines[0] == "Replication: no claim could be tested on this figure's rows."
    assert lines[-1].startswith("Not run on these rows (1") and "liu_weight_level_scratch_b" in lines[-1]


def _demo_like():
    """The demo's shape (tests/synthetic_tables.py) with the columns aggregate adds: dense runs, pruning time."""
    from synthetic_tables import demo_like

    table = demo_like()
    return table.assign(dense_run=table["dense"] + "-" + table["seed"].astype(str), at="final")


def test_not_run_names_the_restriction_that_excluded_the_rows():
    by_id = {c.id: c for c in all_claims()}
    rows = []
    for i in range(2):
        rows.append(_dense(f"d{i}", i))
        for s in (0.5, 0.9, 0.97):
            rows += [
                _pruned(f"d{i}", i, "sipp_det", 90.0, sparsity=s),
                _pruned(f"d{i}", i, "magnitude", 89.0, sparsity=s),
            ]
            rows.append({**_pruned(f"d{i}", i, "snip", 80.0, sparsity=s), "at": "init"})  # pruned at initialisation
        rows.append(_pruned(f"d{i}", i, "magnitude", 85.0, sparsity=0.95))  # another experiment's sparsity
    results, _ = replicate(pd.DataFrame(rows), [by_id["sipp_det_vs_wt_pruned"], by_id["sipp_det_vs_snip_pruned"]])
    wt = results[results["claim"] == "sipp_det_vs_wt_pruned"].set_index("cell")["why"]
    assert wt["model=lenet_300_100, dataset=mnist, target_sparsity=0.95"] == (
        "method=sipp_det ran with target_sparsity = 0.5, 0.9, 0.97; this cell needs target_sparsity=0.95"
    )
    snip = results[results["claim"] == "sipp_det_vs_snip_pruned"].set_index("cell")["why"]
    assert snip["model=lenet_300_100, dataset=mnist, target_sparsity=0.9"] == (
        "method=snip ran with at = init; the claim needs at=final"
    )

    weight_level = _only(
        replicate(_demo_like(), [by_id["liu_weight_level_scratch_b"]])[0], "liu_weight_level_scratch_b"
    )
    assert weight_level["why"] == (
        "branch_type=scratch_b ran with target_sparsity = 0.8, 0.95; the claim needs target_sparsity ≤ 0.5"
    )
    structured = _only(replicate(_demo_like(), [by_id["liu_scratch_b_vs_finetune"]])[0], "liu_scratch_b_vs_finetune")
    assert structured["cell"] == "" and structured["why"] == (
        "this suite ran with method = lm, lobs, magnitude, obd, qm, random, sipp_det, sipp_hybrid and 2 more; "
        "the claim needs method=l1_filter|l1_blocks"
    )


def test_cells_and_reasons_print_values_as_a_reader_writes_them():
    from prunelab.replication.select import describe_cell, values_text

    assert (
        describe_cell({"model": "lenet", "activation": np.nan, "target_sparsity": 0.95})
        == "model=lenet, target_sparsity=0.95"
    )
    assert values_text([1.0, 14.0, 1.0]) == "1, 14"
    steps_claim = next(c for c in all_claims() if c.id == "laurent_steps_improve_pruned")
    table = pd.DataFrame([_dense("d0", 0), {**_pruned("d0", 0, "lm", 50.0), "steps": 1.0, "hparams": '{"lambda": 0}'}])
    assert "(this suite has 1)" in _only(replicate(table, [steps_claim])[0], steps_claim.id)["why"]
    assert SIPP_VS_WT.comparison().endswith("≥ 0") and "−0" not in SIPP_VS_WT.in_words()


def test_every_paper_whose_claims_found_cells_gets_ledger_lines():
    liu = [c for c in all_claims() if c.id == "liu_weight_level_scratch_b"]
    wang = [c for c in all_claims() if c.id == "wang_lr_1e2_beats_1e3"]
    results, ledger = replicate(_demo_like(), [SIPP_VS_WT, *liu, *wang])
    assert set(results["verdict"]) == {"not run"}  # nothing decided, but Liu's and Wang's claims have cells
    assert set(ledger["paper"]) == {liu[0].paper, wang[0].paper}
    assert set(ledger["dense"]) == {"lenet"} and set(ledger["seeds"]) == {3}


def test_the_ledger_says_how_flat_each_dense_schedule_ended():
    """The largest |change| of validation accuracy over the last 10 % of epochs among a net's seeds, on the page."""
    from prunelab.replication import page

    wang = [c for c in all_claims() if c.id == "wang_lr_1e2_beats_1e3"]
    table = _demo_like()
    dense = table["stage"] == "dense"
    assert dense.sum() == 3  # lenet, seeds 1-3
    table.loc[dense, "val_acc_last_tenth"] = [0.05, -0.15, 0.1]
    results, ledger = replicate(table, wang)
    assert ledger.set_index("dense").loc["lenet", "flattening"] == pytest.approx(0.15)
    assert "(the last 10 % of them moved validation accuracy by ≤ 0.15 points)" in page.markdown(
        page.blocks("demo", results, ledger)
    )
    _, unmeasured = replicate(table.assign(val_acc_last_tenth=float("nan")), wang)
    assert unmeasured["flattening"].isna().all()


def test_the_page_reads_without_the_csv_own_findings_first(tmp_path):
    from prunelab.replication import page

    published = dataclasses.replace(_published_claim(), id="published_stand_in")
    table = _sipp_table(det=[85.0, 86.0, 84.5], wt=[80.0, 80.5, 79.0])
    stand_in = table.assign(dataset="digits")
    results, ledger = replicate(stand_in, [SIPP_VS_WT, published])
    assert list(results["verdict"]) == ["holds", "not comparable"]
    blocks = page.blocks("demo", results, ledger)
    text = page.markdown(blocks)
    row = _only(results, SIPP_VS_WT.id)
    for expected in (
        SIPP_VS_WT.statement,
        SIPP_VS_WT.in_words(),
        SIPP_VS_WT.tolerance_source,
        f"| holds | 3 | {row['estimate']:+.3g} pp [{row['ci_low']:.3g}, {row['ci_high']:.3g}] |",
        "this suite vs the paper's setting".lower(),
    ):
        assert expected.lower() in text.lower(), expected
    # the suite's own finding comes first; the published number it cannot compare comes last, collapsed
    assert text.index("sipp_det_vs_wt_pruned") < text.index("<details>") < text.index("published_stand_in")
    html = page.html_page("t", blocks)
    assert '<td class="verdict holds">holds</td>' in html and "<details><summary>" in html
    assert html.count("<h4>") == text.count("\n#### ")


def _correlation_table(orders):
    """One dense run per entry of ``orders``: 4 settings with loss 1..4 and accuracy ranks ``order``."""
    rows = []
    for i, order in enumerate(orders):
        rows.append(_dense(f"d{i}", i))
        for setting, (loss, rank) in enumerate(zip([1.0, 2.0, 3.0, 4.0], order)):
            rows.append(
                {
                    **_pruned(f"d{i}", i, "lm", 50.0),
                    "stage": "branch",
                    "branch_type": "rewind_lr",
                    "hparams": f'{{"lambda": {setting}}}',
                    "pruned_train_loss": loss,
                    "best_test_acc": 90.0 + rank,
                }
            )
    return pd.DataFrame(rows)


def test_rank_correlation_claim_is_one_spearman_rho_per_seed():
    claim = next(c for c in all_claims() if c.id == "laurent_loss_does_not_predict_accuracy")
    weak = _correlation_table([[2, 1, 4, 3], [2, 1, 4, 3], [3, 1, 4, 2], [2, 4, 1, 3]])  # ρ = .6, .6, 0, 0
    row = _only(replicate(weak, [claim])[0], claim.id)
    assert row["estimate"] == pytest.approx(0.3) and row["n"] == 4 and row["verdict"] == "holds"
    predictive = _correlation_table([[4, 3, 2, 1]] * 3)  # lower loss, better accuracy, every seed: ρ = −1
    assert _only(replicate(predictive, [claim])[0], claim.id)["verdict"] == "contradicted"


def test_the_audit_covers_the_replication_outputs(tmp_path):
    from prunelab.records import provenance
    from prunelab.records.audit import audit
    from prunelab.records.layout import sidecar
    from prunelab.replication.write import write

    table = tmp_path / "tables" / "s" / "e.csv"
    table.parent.mkdir(parents=True)
    _sipp_table(det=[85.0, 86.0, 84.5], wt=[80.0, 80.5, 79.0]).to_csv(table, index=False)
    provenance.write(sidecar(table), provenance.build({"table": table}, started=provenance.now(), relative_to=tmp_path))
    write([table], "s", tmp_path / "replication" / "s.csv", tmp_path)
    record = json.loads(sidecar(tmp_path / "replication" / "s.csv").read_text())
    assert set(record["inputs"]) == {"tables/s/e.csv"} and audit(tmp_path).errors == []
    assert {o["role"] for o in record["outputs"].values()} == {"table", "markdown", "html"}
    markdown = tmp_path / "replication" / "s.md"
    markdown.write_text(markdown.read_text() + "edited\n")
    problems = audit(tmp_path).errors
    assert len(problems) == 1 and problems[0].path.endswith("replication/s.md")


def test_a_claim_needing_two_settings_the_suite_lacks_reads_not_run():
    claim = next(c for c in all_claims() if c.id == "laurent_lambda_improves_pruned")
    table = pd.DataFrame(
        [
            _dense("d0", 0),
            {**_pruned("d0", 0, "lm", 50.0), "steps": 1, "hparams": '{"lambda": 0}'},
            {**_pruned("d0", 0, "lm", 55.0), "steps": 1, "hparams": '{"lambda": 1}'},
        ]
    )
    assert _only(replicate(table, [claim])[0], claim.id)["verdict"] == "inconclusive"  # one T is fine; one seed
    steps_claim = next(c for c in all_claims() if c.id == "laurent_steps_improve_pruned")
    row = _only(replicate(table, [steps_claim])[0], steps_claim.id)
    assert row["verdict"] == "not run" and "two values of steps" in row["why"]
