"""The drift monitor: one scheduled run judges the captures of the `live` alias's stable
model version since the last judged window against that version's training profile.

A run reads which Lambda version the alias serves as stable and the model version it pins
(modelship.releases.lambda_alias), the manifest from the registry, and the window's captures
(modelship.monitoring.captures): from the checkpoint (the end of the last judged window of
the same model version) to now, never more than `window_hours` back. It writes the report
(JSON and HTML, write-once) under monitoring/<model>/drift/<yyyy>/<MM>/<dd>/<HHMMSS>-<version>,
and moves the checkpoint only when the window was judged: a window with too few rows is
reported as insufficient_data and its rows are read again, with the next ones, next time.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from botocore.exceptions import ClientError

from modelship import names
from modelship.monitoring.captures import CaptureReader, CaptureWindow
from modelship.monitoring.drift import DriftThresholds, detect_drift
from modelship.monitoring.report import DriftReport
from modelship.monitoring.settings import MonitorSettings
from modelship.registry.registry import Registry, object_exists
from modelship.releases.lambda_alias import FunctionAlias

_CONFLICTS = {"PreconditionFailed", "ConditionalRequestConflict"}


@dataclass(frozen=True)
class Checkpoint:
    """The end of the last judged window, and the model version it judged."""

    model_version: str
    window_end: datetime

    def body(self) -> bytes:
        return json.dumps(
            {"model_version": self.model_version, "window_end": self.window_end.isoformat()}
        ).encode()


@dataclass(frozen=True)
class MonitorRun:
    """What one run judged and wrote; `note` says why a window was not judged or was cut."""

    report: DriftReport
    report_key: str | None
    note: str
    capped: bool = False

    @property
    def judged(self) -> bool:
        return self.report.verdict != "insufficient_data"

    def summary(self) -> dict[str, Any]:
        report = self.report
        return {
            "model": report.model,
            "model_version": report.model_version,
            "verdict": report.verdict,
            "score": report.score,
            "rows": report.rows,
            "drifted_features": report.drifted_features,
            "window_start": report.window_start.isoformat(),
            "window_end": report.window_end.isoformat(),
            "report": self.report_key,
            "capped": self.capped,
            "note": self.note,
        }


def report_key(model: str, version: str, moment: datetime, suffix: str) -> str:
    return f"{names.drift_reports_prefix(model)}{moment:%Y/%m/%d/%H%M%S}-{version}.{suffix}"


def checkpoint_key(model: str) -> str:
    return names.drift_reports_prefix(model) + names.DRIFT_CHECKPOINT_FILE


class DriftMonitor:
    """One model's drift monitor; the clients are passed in."""

    def __init__(
        self,
        settings: MonitorSettings,
        *,
        s3: Any,
        lambda_client: Any,
        reader: CaptureReader | None = None,
    ) -> None:
        self.settings = settings
        self.s3 = s3
        self.alias = FunctionAlias(lambda_client, settings.predict_function, settings.alias_name)
        self.registry = Registry(s3, settings.bucket)
        self.reader = reader or CaptureReader(s3, settings.bucket)
        self.thresholds = DriftThresholds(
            psi=settings.psi_threshold, p_value=settings.p_value, min_rows=settings.min_rows
        )

    def run(self, now: datetime) -> MonitorRun:
        # S3's LastModified has whole seconds: an object written later in this second could
        # carry a time at or before `now` and be missed by this window and the next. Every
        # object of an earlier second was written, and is listed, before now.
        now = now.astimezone(UTC).replace(microsecond=0) - timedelta(seconds=1)
        model = self.settings.model_name
        earliest = now - timedelta(hours=self.settings.window_hours)
        version = self.alias.version_info(self.alias.state().stable).model_version
        if not version:
            return MonitorRun(
                self._empty(version, earliest, now),
                None,
                f"the {self.settings.alias_name} alias's stable version pins no model: "
                "nothing to judge",
            )
        manifest = self.registry.show(model, version)
        checkpoint = self._checkpoint()
        start = earliest
        if checkpoint is not None and checkpoint.model_version == version:
            start = min(max(checkpoint.window_end, earliest), now)
        window = self.reader.window(model, version, start, now)
        report = detect_drift(
            manifest,
            window.instances(),
            window.predictions(),
            window_start=start,
            window_end=now,
            requests=window.requests,
            thresholds=self.thresholds,
            not_captured=window.excluded_fields(),
        )
        key = self._write_report(report, version, now)
        if report.verdict != "insufficient_data":
            self._put(checkpoint_key(model), Checkpoint(version, now).body(), "application/json")
        return MonitorRun(report, key, _note(window, report), capped=window.capped)

    def _empty(self, version: str, start: datetime, end: datetime) -> DriftReport:
        return DriftReport(
            model=self.settings.model_name,
            model_version=version,
            window_start=start,
            window_end=end,
            requests=0,
            rows=0,
            verdict="insufficient_data",
            score=0.0,
            drifted_features=[],
            features=[],
            not_captured=[],
            thresholds=self.thresholds.as_dict(),
        )

    def _checkpoint(self) -> Checkpoint | None:
        bucket, key = self.settings.bucket, checkpoint_key(self.settings.model_name)
        # Listed first: a GetObject of a missing key may be 403, not 404, on AWS.
        if not object_exists(self.s3, bucket, key):
            return None
        body = self.s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        data = json.loads(body)
        return Checkpoint(str(data["model_version"]), datetime.fromisoformat(data["window_end"]))

    def _write_report(self, report: DriftReport, version: str, now: datetime) -> str:
        model = self.settings.model_name
        html = report_key(model, version, now, "html")
        key = report_key(model, version, now, "json")
        # The page first: a reader that finds the JSON finds the page too.
        self._put(html, report.to_html().encode(), "text/html; charset=utf-8", once=True)
        self._put(key, report.to_json().encode(), "application/json", once=True)
        return key

    def _put(self, key: str, body: bytes, content_type: str, *, once: bool = False) -> None:
        extra = {"IfNoneMatch": "*"} if once else {}
        try:
            self.s3.put_object(
                Bucket=self.settings.bucket,
                Key=key,
                Body=body,
                ContentType=content_type,
                **extra,
            )
        except ClientError as exc:
            # A repeated delivery of the same scheduled event in the same second: the report
            # of this window is already there.
            if not (once and exc.response.get("Error", {}).get("Code") in _CONFLICTS):
                raise


def _note(window: CaptureWindow, report: DriftReport) -> str:
    parts = []
    if window.requests == 0:
        parts.append("no captured requests in the window")
    elif report.verdict == "insufficient_data":
        parts.append(
            f"{report.rows} rows, fewer than the {int(report.thresholds.get('min_rows', 0))} "
            "needed: the window is judged again with the next captures"
        )
    if window.capped:
        parts.append(
            f"the window held more rows than the {window.rows} read: "
            f"{window.skipped_objects} older object(s) were not read"
        )
    if window.malformed:
        parts.append(f"{window.malformed} malformed capture line(s) skipped")
    return "; ".join(parts)
