"""The drift report's HTML page: self-contained, readable, and nothing in it unescaped."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from html.parser import HTMLParser

import numpy as np

from modelship import names
from modelship.monitoring.drift import DriftReport, detect_drift
from modelship.registry.manifest import Manifest
from modelship.training.training import profile_column

HOSTILE_FEATURE = '<script>alert("f")</script>'
HOSTILE_LEVEL = '"><img src=x onerror=alert(1)>'
HOSTILE_MODEL = "churn&<b>"


def hostile_report() -> DriftReport:
    rng = np.random.default_rng(2)
    levels = np.array(["a&b", HOSTILE_LEVEL], dtype=object)
    manifest = Manifest.model_validate(
        {
            "name": "churn",
            "version": "v1",
            "created_at": datetime(2026, 1, 1, tzinfo=UTC),
            "task": "classification",
            "classes": [0, 1],
            "features": [
                {"name": HOSTILE_FEATURE, "kind": "numeric", "dtype": "float"},
                {
                    "name": "level",
                    "kind": "categorical",
                    "dtype": "str",
                    "categories": list(levels),
                },
            ],
            "artifact": {"file": "model.joblib", "sha256": "0" * 64, "size_bytes": 1},
            "runtime": {"python": "3.11", "sklearn": "1.9.1", "numpy": "2.4", "joblib": "1.6"},
            "estimator": {"algorithm": "x", "params": {}},
            "metrics": {},
            "training_data": {"uri": "s3://b/k", "rows": 1000, "target": "y"},
            "profile": {
                HOSTILE_FEATURE: profile_column(rng.normal(size=1000), "numeric"),
                "level": profile_column(rng.choice(levels, 1000), "categorical"),
            },
            "prediction_profile": profile_column(rng.choice(["0", "1"], 1000), "categorical"),
        }
    )
    rows = [
        {HOSTILE_FEATURE: float(v), "level": "</td><script>x()</script>"}
        for v in rng.normal(2.0, 1.0, 300)
    ]
    report = detect_drift(
        manifest,
        rows,
        [0] * 300,
        window_start=datetime(2026, 3, 1, tzinfo=UTC),
        window_end=datetime(2026, 3, 2, tzinfo=UTC),
        requests=40,
        not_captured=[],
    )
    return report.model_copy(update={"model": HOSTILE_MODEL})


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.attributes: list[tuple[str, str | None]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.attributes.extend(attrs)


def test_hostile_names_and_values_are_escaped() -> None:
    page = hostile_report().to_html()
    parser = _Tags()
    parser.feed(page)

    assert "script" not in parser.tags
    assert "img" not in parser.tags
    assert "b" not in parser.tags
    assert not any(name.startswith("on") for name, _ in parser.attributes)
    assert HOSTILE_FEATURE not in page
    assert "&lt;script&gt;alert(&quot;f&quot;)&lt;/script&gt;" in page
    assert "&quot;&gt;&lt;img src=x onerror=alert(1)&gt;" in page
    assert "churn&amp;&lt;b&gt;" in page
    assert "a&amp;b" in page


def test_the_page_is_self_contained() -> None:
    page = hostile_report().to_html()

    assert page.startswith("<!doctype html>")
    assert "default-src &#x27;none&#x27;" in page or "default-src 'none'" in page
    assert not re.search(r"(src|href)=\"(https?:)?//", page)
    assert "<link" not in page


def test_the_drifted_features_are_named_before_the_tables() -> None:
    report = hostile_report()
    page = report.to_html()

    assert report.verdict == "drift"
    drifted = page.index("Drifted features:")
    assert drifted < page.index("<table")
    assert "&lt;script&gt;" in page[drifted : page.index("<table")]
    assert names.PREDICTION_FEATURE in report.drifted_features


def test_each_feature_has_its_bins_training_against_window() -> None:
    report = hostile_report()
    page = report.to_html()

    assert page.count("<section>") == len(report.features) == 3
    assert page.count("<th>bin</th>") == 3
    level = next(f for f in report.features if f.feature == "level")
    # the window's value was never seen in training: its bin holds all of it
    assert level.observed[-1] == 1.0
    assert "100.00%" in page
    assert "corrected p-value" in page
