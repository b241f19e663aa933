from modelship.retraining.gates import GateConfig, decide

GOOD = {"roc_auc": 0.90, "log_loss": 0.40, "latency_ms_per_row": 0.01}


def test_a_challenger_above_the_bar_and_the_champion_passes() -> None:
    decision = decide(GOOD, {"roc_auc": 0.89, "log_loss": 0.41}, 4000, GateConfig())

    assert decision.passed
    assert decision.reasons == []
    assert {c.name for c in decision.checks} == {
        "min_roc_auc",
        "roc_auc_vs_champion",
        "log_loss_vs_champion",
        "max_artifact_bytes",
        "max_latency_ms_per_row",
    }


def test_first_model_has_only_absolute_gates() -> None:
    decision = decide(GOOD, None, 4000, GateConfig())

    assert decision.passed
    assert "roc_auc_vs_champion" not in {c.name for c in decision.checks}


def test_regression_beyond_tolerance_is_rejected_even_above_the_bar() -> None:
    decision = decide({**GOOD, "roc_auc": 0.88}, {"roc_auc": 0.90}, 4000, GateConfig())

    assert not decision.passed
    assert decision.reasons == ["ROC-AUC 0.8800 vs champion 0.9000 (tolerance 0.005)"]


def test_every_failed_gate_is_a_reason() -> None:
    config = GateConfig(min_roc_auc=0.95, max_artifact_bytes=1000, max_latency_ms_per_row=0.001)

    decision = decide(GOOD, None, 4000, config)

    assert not decision.passed
    assert len(decision.reasons) == 3
    assert decision.summary().startswith("rejected: ROC-AUC 0.9000 < 0.95")


def test_regressors_are_gated_on_rmse() -> None:
    decision = decide(
        {"rmse": 10.5, "mae": 8.0}, {"rmse": 10.0}, 100, GateConfig(max_rmse_regression_ratio=0.02)
    )

    assert not decision.passed
    assert decision.checks[0].name == "rmse_vs_champion"
