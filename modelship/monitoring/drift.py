"""Drift of a window of served rows against the model's training profile: per feature (and
for the prediction) PSI over the profile's bins, the KS test (numeric) or chi-squared test
(categorical) with a Bonferroni correction over the tested features, and the window's
verdict. Pure: the rows come in as dicts, the report goes out as JSON or an HTML page."""

from __future__ import annotations

import math
import numbers
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

import numpy as np

from modelship import names
from modelship.errors import ConfigurationError
from modelship.monitoring.report import DriftReport, FeatureDrift, TestName, Verdict
from modelship.monitoring.statistics import (
    TestResult,
    bin_counts,
    bonferroni,
    chi_squared_test,
    ks_test,
    psi,
)
from modelship.registry.manifest import CategoricalProfile, Manifest, NumericProfile

__all__ = [
    "UNSEEN_BIN",
    "DriftReport",
    "DriftThresholds",
    "FeatureDrift",
    "compare",
    "detect_drift",
]

# The bin that pools the values a discrete feature never took in training.
UNSEEN_BIN = "(not in training)"
_UNSEEN_NAMED = 5


@dataclass(frozen=True)
class DriftThresholds:
    """When a feature has drifted: its change is significant (Bonferroni-corrected p-value
    below `p_value`, a family-wise error rate) and large (PSI at least `psi`). A window with
    fewer than `min_rows` rows is not judged; a feature no test judges (a profile without
    quantiles) is judged by PSI alone, and only with `min_rows` non-null values."""

    psi: float = names.DEFAULT_DRIFT_PSI_THRESHOLD
    p_value: float = names.DEFAULT_DRIFT_P_VALUE
    min_rows: int = names.DEFAULT_DRIFT_MIN_ROWS

    def __post_init__(self) -> None:
        if not (math.isfinite(self.psi) and self.psi > 0):
            raise ConfigurationError(f"the drift PSI threshold must be above 0, not {self.psi}")
        if not 0 < self.p_value < 1:
            raise ConfigurationError(
                f"the drift p-value threshold must be between 0 and 1, not {self.p_value}"
            )
        if self.min_rows < 1:
            raise ConfigurationError(
                f"the drift minimum rows must be at least 1, not {self.min_rows}"
            )

    def as_dict(self) -> dict[str, float]:
        return {"psi": self.psi, "p_value": self.p_value, "min_rows": float(self.min_rows)}


@dataclass(frozen=True)
class _Comparison:
    kind: Literal["numeric", "categorical"]
    rows: int
    psi: float
    test: TestName
    result: TestResult | None
    bins: list[str]
    expected: list[float]
    observed: list[float]


def detect_drift(
    manifest: Manifest,
    instances: Sequence[Mapping[str, Any]],
    predictions: Sequence[Any] | None,
    *,
    window_start: datetime,
    window_end: datetime,
    requests: int = 0,
    thresholds: DriftThresholds = DriftThresholds(),
    not_captured: Sequence[str] = (),
) -> DriftReport:
    """Judges the window's rows (and the model's answers to them, if given and profiled)
    against the manifest's training profile. Features without a profile, and the ones in
    `not_captured` (dropped before capture), are not judged."""
    if window_end < window_start:
        raise ValueError(f"the window ends ({window_end}) before it starts ({window_start})")
    if predictions is not None and len(predictions) != len(instances):
        raise ValueError(f"{len(predictions)} predictions for {len(instances)} rows")
    skipped = set(not_captured)
    judged: list[tuple[str, _Comparison]] = []
    for spec in manifest.features:
        profile = manifest.profile.get(spec.name)
        if spec.name in skipped or profile is None:
            continue
        values = [row.get(spec.name) for row in instances]
        judged.append((spec.name, compare(spec.name, profile, values)))
    if predictions is not None and manifest.prediction_profile is not None:
        name = names.PREDICTION_FEATURE
        judged.append((name, compare(name, manifest.prediction_profile, predictions)))

    enough = len(instances) >= thresholds.min_rows
    features = _judge(judged, thresholds, enough)
    scored = [f.psi for f in features if f.significant or _psi_alone(f, thresholds)]
    drifted = [f.feature for f in features if f.drifted]
    verdict: Verdict = "insufficient_data" if not enough else "drift" if drifted else "no_drift"
    return DriftReport(
        model=manifest.name,
        model_version=manifest.version,
        window_start=window_start,
        window_end=window_end,
        requests=requests,
        rows=len(instances),
        verdict=verdict,
        score=max(scored) if enough and scored else 0.0,
        drifted_features=drifted,
        features=features,
        not_captured=[name for name in manifest.feature_names if name in skipped],
        thresholds=thresholds.as_dict(),
    )


def _psi_alone(feature: FeatureDrift, thresholds: DriftThresholds) -> bool:
    """Untested, but with enough values: PSI alone judges it (an older manifest's profile)."""
    return feature.test == "none" and feature.rows >= thresholds.min_rows


def _judge(
    judged: list[tuple[str, _Comparison]], thresholds: DriftThresholds, enough: bool
) -> list[FeatureDrift]:
    tested = [c.result.p_value for _, c in judged if c.result is not None]
    corrected = iter(bonferroni(tested))
    features = []
    for name, c in judged:
        p_value = next(corrected) if c.result is not None else None
        significant = enough and p_value is not None and p_value < thresholds.p_value
        large = c.psi >= thresholds.psi
        feature = FeatureDrift(
            feature=name,
            kind=c.kind,
            rows=c.rows,
            psi=c.psi,
            test=c.test,
            statistic=c.result.statistic if c.result is not None else None,
            p_value=p_value,
            significant=significant,
            drifted=False,
            bins=c.bins,
            expected=c.expected,
            observed=c.observed,
        )
        drifted = enough and large and (significant or _psi_alone(feature, thresholds))
        features.append(feature.model_copy(update={"drifted": drifted}))
    return features


def compare(
    feature: str, profile: NumericProfile | CategoricalProfile, raw: Sequence[Any]
) -> _Comparison:
    """One feature's window values (nulls included, and skipped) against its profile."""
    if isinstance(profile, NumericProfile):
        return _compare_numeric(profile, _numbers(feature, raw))
    return _compare_categorical(profile, _labels(raw))


def _numbers(feature: str, raw: Sequence[Any]) -> np.ndarray:
    values = []
    for value in raw:
        if value is None:
            continue
        if not isinstance(value, numbers.Real):
            raise ValueError(f"{feature}: {value!r} is not a number")
        number = float(value)
        if not math.isnan(number):
            values.append(number)
    return np.asarray(values, dtype=float)


def _labels(raw: Sequence[Any]) -> list[str]:
    return [str(v) for v in raw if v is not None and not (isinstance(v, float) and math.isnan(v))]


def _compare_numeric(profile: NumericProfile, values: np.ndarray) -> _Comparison:
    n = len(values)
    if profile.values:
        support = np.asarray(profile.values, dtype=float)
        position = np.searchsorted(support, values)
        known = position < len(support)
        known[known] = support[position[known]] == values[known]
        counts = np.bincount(position[known], minlength=len(support)).astype(float)
        bins = [_number(v) for v in support]
        expected = _normalised(profile.value_fractions)
        unseen = n - int(known.sum())
        if unseen:
            named = sorted({_number(v) for v in values[~known]}, key=float)
            bins.append(_unseen_label(named))
            expected.append(0.0)
            counts = np.append(counts, unseen)
    else:
        edges = profile.bin_edges
        counts = bin_counts(values, edges).astype(float)
        bins = _bin_labels(edges)
        expected = _normalised(profile.bin_fractions)
    observed = [float(c) / n for c in counts] if n else [0.0] * len(counts)
    result: TestResult | None = None
    if n and (profile.values or profile.quantiles):
        result = ks_test(
            values,
            quantiles=profile.quantiles,
            support=profile.values,
            fractions=profile.value_fractions,
        )
    return _Comparison(
        kind="numeric",
        rows=n,
        psi=psi(expected, observed) if n else 0.0,
        test="ks" if result is not None else "none",
        result=result,
        bins=bins,
        expected=expected,
        observed=observed,
    )


def _compare_categorical(profile: CategoricalProfile, labels: list[str]) -> _Comparison:
    n = len(labels)
    counts = Counter(labels)
    bins = list(profile.fractions)
    expected = _normalised(list(profile.fractions.values()))
    observed_counts = [counts.get(level, 0) for level in bins]
    unseen = sorted(set(counts) - set(bins))
    if unseen:
        bins.append(_unseen_label(unseen))
        expected.append(0.0)
        observed_counts.append(sum(counts[level] for level in unseen))
    result = chi_squared_test(expected, observed_counts) if n else None
    observed = [c / n for c in observed_counts] if n else [0.0] * len(observed_counts)
    return _Comparison(
        kind="categorical",
        rows=n,
        psi=psi(expected, observed) if n else 0.0,
        test="chi2" if result is not None else "none",
        result=result,
        bins=bins,
        expected=expected,
        observed=observed,
    )


def _normalised(fractions: Sequence[float]) -> list[float]:
    total = float(sum(fractions))
    return [float(f) / total for f in fractions] if total > 0 else [0.0 for _ in fractions]


def _number(value: float) -> str:
    return f"{value:.6g}"


def _bin_labels(edges: Sequence[float]) -> list[str]:
    inner = len(edges) - 1
    if inner == 1:
        return ["all values"]
    labels = [f"< {_number(edges[1])}"]
    labels += [f"[{_number(edges[i])}, {_number(edges[i + 1])})" for i in range(1, inner - 1)]
    labels.append(f">= {_number(edges[inner - 1])}")
    return labels


def _unseen_label(values: Sequence[str]) -> str:
    shown = ", ".join(values[:_UNSEEN_NAMED])
    more = f" and {len(values) - _UNSEEN_NAMED} more" if len(values) > _UNSEEN_NAMED else ""
    return f"{UNSEEN_BIN}: {shown}{more}"
