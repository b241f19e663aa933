"""The local dashboard page drawn from what the emulator really recorded: a few predictions
show up in the live version's requests series, on the JSON and the HTML page alike, at the
address `modelship dashboard` prints."""

from __future__ import annotations

import json
import time
import urllib.request
from typing import Any

import pytest

from modelship.cli import main
from modelship.releases.directory import ModelDirectory
from tests.e2e.conftest import Local
from tests.e2e.test_emulator import post

pytestmark = pytest.mark.e2e
SENT = 5
REQUESTS_TITLE = "requests by model version"


def _get(url: str) -> tuple[int, str, str]:
    with urllib.request.urlopen(url, timeout=30) as response:
        return response.status, response.headers.get("content-type", ""), response.read().decode()


def _requests_of(page: dict[str, Any], model: str, version: str) -> float:
    (widget,) = [w for w in page["widgets"] if w["title"] == f"{model}: {REQUESTS_TITLE}"]
    return sum(
        sum(series["values"])
        for series in widget["series"]
        if series["dimensions"].get("ModelVersion") == version
    )


def test_the_dashboard_page_counts_the_requests_the_live_version_served(
    local: Local, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given the address `modelship dashboard` prints for the default model
    for key, value in local.environment.items():
        monkeypatch.setenv(key, value)
    stack = local.environment["MODELSHIP_STACK"]
    default = ModelDirectory(local.client("ssm"), stack).models()[0]
    assert main(["dashboard", "--model", default.model, "--output", "json"]) == 0
    url = json.loads(capsys.readouterr().out)["url"]
    assert url.startswith(local.api_url + "/_local/dashboards/")
    window = "?minutes=1440"
    before = json.loads(_get(url + ".json" + window)[2])

    # When a few predictions go through the live alias
    answers = [post(local.api_url) for _ in range(SENT)]
    (version,) = {served for _, served in answers}
    assert {status for status, _ in answers} == {200}
    expected = _requests_of(before, default.model, version) + SENT

    # Then the version's requests series holds them (metrics land as the workers report)
    deadline = time.monotonic() + 60
    page = json.loads(_get(url + ".json" + window)[2])
    while _requests_of(page, default.model, version) < expected and time.monotonic() < deadline:
        time.sleep(0.5)
        page = json.loads(_get(url + ".json" + window)[2])
    assert _requests_of(page, default.model, version) == expected

    status, content_type, html = _get(url + window)
    assert status == 200
    assert content_type.startswith("text/html")
    assert version in html
    assert "<svg" in html
    assert "<polyline" in html or "<circle" in html
