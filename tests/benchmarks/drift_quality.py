"""Figure 10: the drift detector's quality on the reference dataset's drift knob.

The reference model is trained by `modelship.training` on undrifted churn data; every window
is `generate_churn(rows, seed, drift)` with the model's own answers, judged by `detect_drift`
against the manifest's training profile (`modelship.monitoring.detector_quality`). Detection
rate = share of windows judged drift; the false-alarm rate comes from many more undrifted
windows. The default thresholds at three window sizes, then a lower PSI threshold at the
default size to show what the effect-size gate costs and buys.

    .venv/bin/python -m tests.benchmarks.drift_quality [--quick]
"""

from __future__ import annotations

import argparse
import time
from dataclasses import dataclass

from modelship.monitoring.detector_quality import (
    DEFAULT_WINDOW_ROWS,
    DetectorQuality,
    measure_detector_quality,
    reference_model,
)
from modelship.monitoring.drift import DriftThresholds

COMMAND = ".venv/bin/python -m tests.benchmarks.drift_quality"
WINDOW_SIZES = (200, DEFAULT_WINDOW_ROWS, 2000)
LOWER_PSI = 0.1
FALSE_ALARM_TARGET = 0.01


@dataclass(frozen=True)
class DriftQualityFigure:
    configurations: list[DetectorQuality]
    seconds: float


def measure_drift_quality(quick: bool = False) -> DriftQualityFigure:
    started = time.monotonic()
    model = reference_model()
    per_level, undrifted = (20, 100) if quick else (200, 1000)
    settings = [(rows, DriftThresholds()) for rows in WINDOW_SIZES]
    settings.append((DEFAULT_WINDOW_ROWS, DriftThresholds(psi=LOWER_PSI)))
    configurations = [
        measure_detector_quality(
            model,
            window_rows=rows,
            windows_per_level=per_level,
            undrifted_windows=undrifted,
            thresholds=thresholds,
        )
        for rows, thresholds in settings
    ]
    return DriftQualityFigure(configurations=configurations, seconds=time.monotonic() - started)


def _label(quality: DetectorQuality) -> str:
    return f"{quality.window_rows} rows, PSI >= {quality.thresholds.psi:g}"


def _percent(rate: float) -> str:
    return f"{rate:.1%}"


def drift_quality_table(figure: DriftQualityFigure) -> str:
    """Detection rate per drift level (rows) and configuration (columns), then the
    false-alarm rate over the undrifted windows, as a markdown table."""
    configurations = figure.configurations
    header = ["drift", *(_label(q) for q in configurations)]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for i, level in enumerate(configurations[0].levels):
        cells = [f"{level.drift:.1f}"]
        cells += [
            f"{_percent(q.levels[i].rate)} (score {q.levels[i].mean_score:.2f})"
            for q in configurations
        ]
        lines.append("| " + " | ".join(cells) + " |")
    alarms = [
        f"**{_percent(q.false_alarm_rate)}** ({q.undrifted.detected} of {q.undrifted.windows})"
        for q in configurations
    ]
    lines.append("| false alarms, undrifted | " + " | ".join(alarms) + " |")
    return "\n".join(lines)


def flagged_features_table(figure: DriftQualityFigure) -> str:
    """Which features were judged drifted, at each level, with the default configuration."""
    default = next(q for q in figure.configurations if q.window_rows == DEFAULT_WINDOW_ROWS)
    lines = [
        "| drift | windows judged drift | features judged drifted (windows) |",
        "|---|---|---|",
    ]
    for level in default.levels:
        named = ", ".join(f"{name} ({count})" for name, count in level.flagged.items()) or "-"
        lines.append(f"| {level.drift:.1f} | {level.detected} of {level.windows} | {named} |")
    return "\n".join(lines)


def drift_quality_section(figure: DriftQualityFigure | None) -> str:
    title = "## 10. Drift detector quality (reference dataset's drift knob)\n\n"
    if figure is None:
        return title + "Not measured in this run."
    default = next(q for q in figure.configurations if q.window_rows == DEFAULT_WINDOW_ROWS)
    met = default.false_alarm_rate <= FALSE_ALARM_TARGET
    windows = default.levels[0].windows
    return (
        title + f"Detection rate (share of {windows} windows per level judged drift) and the mean "
        "drift score; the false-alarm rate over "
        f"{default.undrifted.windows} other undrifted windows. Target: at most "
        f"{_percent(FALSE_ALARM_TARGET)} false alarms at the default window of "
        f"{DEFAULT_WINDOW_ROWS} rows: {_percent(default.false_alarm_rate)}, "
        f"**{'met' if met else 'missed'}**. Measured in {figure.seconds / 60:.1f} minutes; "
        "docs/monitoring.md explains the figures.\n\n"
        + drift_quality_table(figure)
        + "\n\nFeatures judged drifted at the default window and thresholds:\n\n"
        + flagged_features_table(figure)
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="few windows, smoke run only")
    args = parser.parse_args(argv)
    print(drift_quality_section(measure_drift_quality(args.quick)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
