"""Laurent et al. 2020, "Revisiting Loss Modelling for Unstructured Pruning": locality (more pruning steps T,
or the λ term) improves LM and QM; once local they reach similar accuracy. Locality settings compared across
criteria are chosen on validation accuracy, never on test."""

from __future__ import annotations

from prunelab.replication.claim import Best, Claim, Extreme, Select, Setting

LAURENT = "Laurent et al. 2020, Revisiting Loss Modelling for Unstructured Pruning"
SETTING = Setting(
    ("mnist", "cifar10"), None, 5, "MLP 800 epochs, VGG11 300 epochs; retrain with the full schedule; seeds 1111–1115"
)
PAPER = "P: the paper's qualitative findings (no number verified)"
STRICT = "0: a strict improvement"
# after pruning: accuracy right then; after retraining: test accuracy at the best-validation epoch (the paper's)
STAGES = {"pruned": "test_acc", "branch": "best_test_acc"}
WHEN = {"pruned": "right after pruning", "branch": "after retraining"}
PER = ("model", "dataset", "method", "target_sparsity")


def _locality(stage: str) -> list[Claim]:
    quantity = STAGES[stage]
    return [
        Claim(
            f"laurent_steps_improve_{stage}",
            LAURENT,
            "§ locality (T steps)",
            f"more pruning steps T improve LM and QM ({WHEN[stage]}, λ = 0)",
            quantity,
            "at_least",
            ((1.0, Select.of(steps=Extreme("max"))), (-1.0, Select.of(steps=Extreme("min")))),
            0.0,
            STRICT,
            PAPER,
            SETTING,
            Select.of(stage=stage, method=("lm", "qm"), hp_lambda=0.0),
            PER,
        ),
        Claim(
            f"laurent_lambda_improves_{stage}",
            LAURENT,
            "§ locality (λ term)",
            f"the λ locality term improves LM and QM ({WHEN[stage]}, fewest steps)",
            quantity,
            "at_least",
            ((1.0, Select.of(hp_lambda=Extreme("max"))), (-1.0, Select.of(hp_lambda=0.0))),
            0.0,
            STRICT,
            PAPER,
            SETTING,
            Select.of(stage=stage, method=("lm", "qm"), steps=Extreme("min")),
            PER,
        ),
    ]


_LOCAL = Best("val_acc", ("steps", "hp_lambda"))

CLAIMS = [
    *_locality("pruned"),
    *_locality("branch"),
    Claim(
        "laurent_lm_qm_similar",
        LAURENT,
        "§ results (LM vs QM once local)",
        "once local (T and λ chosen on validation accuracy), LM and QM reach similar accuracy after retraining",
        "best_test_acc",
        "equivalent",
        ((1.0, Select.of(method="lm", best=_LOCAL)), (-1.0, Select.of(method="qm", best=_LOCAL))),
        1.0,
        "1 pp: prunelab's reading of 'similar' (the paper gives no margin)",
        PAPER,
        SETTING,
        Select.of(stage="branch"),
        ("model", "dataset", "target_sparsity"),
    ),
    Claim(
        "laurent_loss_does_not_predict_accuracy",
        LAURENT,
        "§ loss after pruning vs accuracy after retraining",
        "a lower training loss right after pruning does not imply better accuracy after retraining: across "
        "pruning settings (criteria, T, λ), ρ(loss after pruning, accuracy after retraining) is not strongly "
        "negative",
        "best_test_acc",
        "rank_correlation",
        ((1.0, Select.of()),),
        0.5,
        "0.5: prunelab's line between a weak and a strong monotone association (the paper gives none)",
        PAPER,
        SETTING,
        Select.of(stage="branch", level=0, branch_type=("finetune", "rewind_lr")),
        ("model", "dataset", "target_sparsity"),
        along="pruned_train_loss",
    ),
]
