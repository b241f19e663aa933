"""Quality gates: may a challenger replace the champion? Every check and its numbers are kept,
so a rejection says exactly why."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class GateConfig(BaseModel):
    """Thresholds; the defaults follow the churn-model guide (ROC-AUC >= 0.85)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    min_roc_auc: float = Field(default=0.85, ge=0, le=1)
    # How much worse than the champion on the same holdout is still acceptable.
    max_roc_auc_regression: float = Field(default=0.005, ge=0, le=1)
    max_log_loss_regression: float = Field(default=0.02, ge=0)
    max_rmse: float | None = Field(default=None, gt=0)
    max_rmse_regression_ratio: float = Field(default=0.02, ge=0)
    max_artifact_bytes: int = Field(default=50 * 1024 * 1024, ge=1)
    max_latency_ms_per_row: float = Field(default=5.0, gt=0)


class GateCheck(BaseModel):
    model_config = ConfigDict(frozen=True)

    name: str
    passed: bool
    value: float | None
    threshold: float | None
    detail: str


class GateDecision(BaseModel):
    model_config = ConfigDict(frozen=True)

    passed: bool
    checks: list[GateCheck]

    @property
    def reasons(self) -> list[str]:
        return [c.detail for c in self.checks if not c.passed]

    def summary(self) -> str:
        if self.passed:
            return f"all {len(self.checks)} gates passed"
        return "rejected: " + "; ".join(self.reasons)


def decide(
    challenger: dict[str, float],
    champion: dict[str, float] | None,
    artifact_bytes: int,
    config: GateConfig,
) -> GateDecision:
    checks: list[GateCheck] = []

    def check(
        name: str, ok: bool, value: float | None, threshold: float | None, detail: str
    ) -> None:
        checks.append(
            GateCheck(name=name, passed=ok, value=value, threshold=threshold, detail=detail)
        )

    if "roc_auc" in challenger:
        auc = challenger["roc_auc"]
        check(
            "min_roc_auc",
            auc >= config.min_roc_auc,
            auc,
            config.min_roc_auc,
            f"ROC-AUC {auc:.4f} {'>=' if auc >= config.min_roc_auc else '<'} {config.min_roc_auc}",
        )
        if champion and "roc_auc" in champion:
            floor = champion["roc_auc"] - config.max_roc_auc_regression
            check(
                "roc_auc_vs_champion",
                auc >= floor,
                auc,
                floor,
                f"ROC-AUC {auc:.4f} vs champion {champion['roc_auc']:.4f} "
                f"(tolerance {config.max_roc_auc_regression})",
            )
        if champion and "log_loss" in champion and "log_loss" in challenger:
            ceiling = champion["log_loss"] + config.max_log_loss_regression
            check(
                "log_loss_vs_champion",
                challenger["log_loss"] <= ceiling,
                challenger["log_loss"],
                ceiling,
                f"log loss {challenger['log_loss']:.4f} vs champion {champion['log_loss']:.4f} "
                f"(tolerance {config.max_log_loss_regression})",
            )
    if "rmse" in challenger:
        rmse = challenger["rmse"]
        if config.max_rmse is not None:
            check("max_rmse", rmse <= config.max_rmse, rmse, config.max_rmse, f"RMSE {rmse:.4f}")
        if champion and "rmse" in champion:
            ceiling = champion["rmse"] * (1 + config.max_rmse_regression_ratio)
            check(
                "rmse_vs_champion",
                rmse <= ceiling,
                rmse,
                ceiling,
                f"RMSE {rmse:.4f} vs champion {champion['rmse']:.4f}",
            )
    check(
        "max_artifact_bytes",
        artifact_bytes <= config.max_artifact_bytes,
        float(artifact_bytes),
        float(config.max_artifact_bytes),
        f"artifact {artifact_bytes} bytes (budget {config.max_artifact_bytes})",
    )
    latency = challenger.get("latency_ms_per_row")
    if latency is not None:
        check(
            "max_latency_ms_per_row",
            latency <= config.max_latency_ms_per_row,
            latency,
            config.max_latency_ms_per_row,
            f"{latency:.4f} ms per row (budget {config.max_latency_ms_per_row})",
        )
    return GateDecision(passed=all(c.passed for c in checks), checks=checks)
