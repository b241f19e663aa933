"""A drift report: per feature (and the prediction) what was compared and found, as JSON, and
as one self-contained HTML page: the verdict and the drifted features at the top, a summary
row per feature, then each feature's bins, training against window. The page has no script
and no external resource (its own policy forbids both); every value that came from a
manifest or a request is escaped."""

from __future__ import annotations

from datetime import datetime
from html import escape
from typing import Literal

from pydantic import BaseModel, ConfigDict

Verdict = Literal["drift", "no_drift", "insufficient_data"]
TestName = Literal["ks", "chi2", "none"]


class FeatureDrift(BaseModel):
    """One feature (or the prediction, named names.PREDICTION_FEATURE) of one window."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    feature: str
    kind: Literal["numeric", "categorical"]
    rows: int  # non-null values compared
    psi: float
    # "none": no test (an older profile without quantiles, one category left, no values).
    test: TestName
    statistic: float | None
    p_value: float | None  # Bonferroni-corrected over the tested features
    significant: bool
    drifted: bool
    # The report's table: each bin's label, training and window fractions.
    bins: list[str]
    expected: list[float]
    observed: list[float]


class DriftReport(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    model: str
    model_version: str
    window_start: datetime
    window_end: datetime
    requests: int
    rows: int
    verdict: Verdict
    # The largest PSI among the features (prediction included) whose change is significant,
    # or that PSI alone judges; 0 when there is none or the window was not judged. It reaches
    # the PSI threshold exactly when the verdict is drift.
    score: float
    drifted_features: list[str]
    features: list[FeatureDrift]
    not_captured: list[str]
    thresholds: dict[str, float]

    def to_json(self) -> str:
        return self.model_dump_json(indent=2)

    def to_html(self) -> str:
        return render_report(self)


_STYLE = """
body { font: 14px/1.45 system-ui, sans-serif; margin: 2em auto; max-width: 70em; color: #222 }
table { border-collapse: collapse; margin: .5em 0 1.5em }
th, td { border-bottom: 1px solid #ddd; padding: .25em .75em; text-align: left }
td.n { text-align: right; font-variant-numeric: tabular-nums }
.drift { color: #a50e0e; font-weight: 600 }
.ok { color: #1e6b2f }
.bar { height: .7em; display: inline-block; vertical-align: middle }
.expected { background: #9aa7b5 } .observed { background: #3d6fb4 }
"""
_POLICY = "default-src 'none'; style-src 'unsafe-inline'"
_VERDICTS = {
    "drift": "Drift",
    "no_drift": "No drift",
    "insufficient_data": "Not judged: too few rows",
}


def _e(value: object) -> str:
    return escape(str(value), quote=True)


def _num(value: float | None, digits: int = 4) -> str:
    return "-" if value is None else f"{value:.{digits}g}"


def _bar(fraction: float, kind: str) -> str:
    width = max(0.0, min(fraction, 1.0)) * 12
    return f'<span class="bar {kind}" style="width: {width:.2f}em"></span>'


def _summary_row(feature: FeatureDrift) -> str:
    flag = '<span class="drift">drifted</span>' if feature.drifted else "no"
    return (
        f"<tr><td>{_e(feature.feature)}</td><td>{_e(feature.kind)}</td>"
        f'<td class="n">{feature.rows}</td><td class="n">{_num(feature.psi)}</td>'
        f'<td>{_e(feature.test)}</td><td class="n">{_num(feature.statistic)}</td>'
        f'<td class="n">{_num(feature.p_value)}</td>'
        f"<td>{'yes' if feature.significant else 'no'}</td><td>{flag}</td></tr>"
    )


def _feature_section(feature: FeatureDrift) -> str:
    rows = "".join(
        f'<tr><td>{_e(label)}</td><td class="n">{expected:.2%}</td>'
        f'<td class="n">{observed:.2%}</td>'
        f"<td>{_bar(expected, 'expected')}<br>{_bar(observed, 'observed')}</td></tr>"
        for label, expected, observed in zip(
            feature.bins, feature.expected, feature.observed, strict=True
        )
    )
    test = (
        f"{_e(feature.test)} statistic {_num(feature.statistic)}, corrected p-value "
        f"{_num(feature.p_value)}"
        if feature.test != "none"
        else "no test"
    )
    state = '<span class="drift">drifted</span>' if feature.drifted else "not drifted"
    return (
        f"<section><h3>{_e(feature.feature)}</h3>"
        f"<p>{_e(feature.kind)}, {feature.rows} values; PSI {_num(feature.psi)}; {test}; "
        f"{state}.</p>"
        "<table><tr><th>bin</th><th>training</th><th>window</th><th></th></tr>"
        f"{rows}</table></section>"
    )


def render_report(report: DriftReport) -> str:
    title = f"Drift report: {report.model} {report.model_version}"
    verdict_class = "drift" if report.verdict == "drift" else "ok"
    drifted = (
        f"<p>Drifted features: <strong>{_e(', '.join(report.drifted_features))}</strong></p>"
        if report.drifted_features
        else "<p>No feature drifted.</p>"
    )
    thresholds = ", ".join(f"{_e(k)} {_num(v)}" for k, v in report.thresholds.items())
    not_captured = (
        f"<p>Not captured, so not judged: {_e(', '.join(report.not_captured))}</p>"
        if report.not_captured
        else ""
    )
    summary = "".join(_summary_row(f) for f in report.features)
    sections = "".join(_feature_section(f) for f in report.features)
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{_POLICY}">'
        f"<title>{_e(title)}</title><style>{_STYLE}</style></head><body>"
        f"<h1>{_e(title)}</h1>"
        f'<p class="{verdict_class}">{_VERDICTS[report.verdict]}; score '
        f"{_num(report.score)}</p>{drifted}"
        f"<p>Window {_e(report.window_start.isoformat())} to "
        f"{_e(report.window_end.isoformat())}: {report.requests} requests, {report.rows} rows. "
        f"Thresholds: {thresholds}.</p>{not_captured}"
        "<h2>Features</h2><table><tr><th>feature</th><th>kind</th><th>values</th><th>PSI</th>"
        "<th>test</th><th>statistic</th><th>p-value</th><th>significant</th><th>drifted</th>"
        f"</tr>{summary}</table>"
        f"<h2>Bins: training against window</h2>{sections}</body></html>\n"
    )
