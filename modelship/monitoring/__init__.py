"""Monitoring: how a served model's inputs and answers compare with its training data. The
statistics a window is judged with (`statistics`: PSI, KS, chi-squared), the drift of a
window against the manifest's training profile (`drift`) and its report as JSON and a page
(`report`), and how well that detector finds the reference dataset's drift
(`detector_quality`). The drift monitor: a window of captured requests read back from S3
(`captures`), the scheduled run that judges it and keeps its checkpoint and reports
(`monitor`), its settings (`settings`) and metrics (`observability`). The names below are
imported on first use: reading captures must not import scipy.
"""

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from modelship.monitoring.captures import CaptureReader, CaptureWindow
    from modelship.monitoring.drift import DriftReport, DriftThresholds, FeatureDrift, detect_drift
    from modelship.monitoring.monitor import DriftMonitor, MonitorRun
    from modelship.monitoring.settings import MonitorSettings

_MODULE_OF = {
    "CaptureReader": "captures",
    "CaptureWindow": "captures",
    "DriftMonitor": "monitor",
    "MonitorRun": "monitor",
    "MonitorSettings": "settings",
    "DriftReport": "drift",
    "DriftThresholds": "drift",
    "FeatureDrift": "drift",
    "detect_drift": "drift",
}

__all__ = [
    "CaptureReader",
    "CaptureWindow",
    "DriftMonitor",
    "DriftReport",
    "DriftThresholds",
    "FeatureDrift",
    "MonitorRun",
    "MonitorSettings",
    "detect_drift",
]


def __getattr__(name: str) -> Any:
    if name not in _MODULE_OF:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(import_module(f"{__name__}.{_MODULE_OF[name]}"), name)
