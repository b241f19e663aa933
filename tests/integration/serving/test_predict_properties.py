"""Generated hostile bodies against the real predict handler: every answer is a documented
client error or a prediction, never an exception (a Lambda function error, which the
alias's error alarm would count against a healthy release)."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from modelship.sample_events import http_api_event, load_event
from tests.integration.conftest import Invoke
from tests.integration.openapi_contract import assert_documented

ROW: dict[str, Any] = json.loads(load_event("predict_valid")["body"])["instances"][0]
CLIENT_STATUSES = {200, 400, 413, 422}

json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**30), max_value=10**30),
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from([1e308, -1e308, 1.7976931348623157e308, 5e-324, 0.0, -0.0]),
    st.text(max_size=50),
    st.integers(min_value=1, max_value=200_000).map(lambda n: "a" * n),
)
json_values = st.recursive(
    json_scalars,
    lambda children: st.lists(children, max_size=5) | st.dictionaries(st.text(), children),
    max_leaves=20,
)


@st.composite
def mutated_rows(draw: st.DrawFn) -> dict[str, Any]:
    """A valid row with some fields replaced, removed or added."""
    row = dict(ROW)
    for name in draw(st.lists(st.sampled_from(sorted(ROW)), max_size=4, unique=True)):
        action = draw(st.sampled_from(["replace", "drop"]))
        if action == "drop":
            row.pop(name)
        else:
            row[name] = draw(json_values)
    row.update(draw(st.dictionaries(st.text(max_size=20), json_values, max_size=3)))
    return row


@st.composite
def duplicate_key_rows(draw: st.DrawFn) -> str:
    """A row's JSON text with keys repeated, which json.dumps cannot produce."""
    pairs = [f"{json.dumps(k)}:{json.dumps(v)}" for k, v in ROW.items()]
    key = draw(st.sampled_from([*sorted(ROW), "extra"]))
    repeats = draw(st.integers(min_value=2, max_value=30_000))
    pairs.extend([f'"{key}":1'] * repeats)
    return "{" + ",".join(pairs) + "}"


def _envelope(rows_json: list[str]) -> str:
    return '{"instances":[' + ",".join(rows_json) + "]}"


def _event(body: str | None, base64_encoded: bool = False) -> dict[str, Any]:
    event = http_api_event("POST", "/predict", body)
    event["isBase64Encoded"] = base64_encoded
    return event


hostile_events = st.one_of(
    # Rows that are almost right: wrong types, huge or tiny numbers, long strings, extras.
    st.lists(mutated_rows(), min_size=1, max_size=5).map(
        lambda rows: _event(json.dumps({"instances": rows}))
    ),
    # Repeated keys in a row.
    duplicate_key_rows().map(lambda row: _event(_envelope([row]))),
    # Anything JSON in place of the envelope or of `instances`.
    json_values.map(lambda value: _event(json.dumps(value))),
    json_values.map(lambda value: _event(json.dumps({"instances": value}))),
    # Deep nesting.
    st.integers(min_value=1, max_value=50_000).map(
        lambda depth: _event('{"instances":[' + "[" * depth + "]" * depth + "]}")
    ),
    st.integers(min_value=1, max_value=20_000).map(
        lambda depth: _event('{"instances":[' + '{"a":' * depth + "1" + "}" * depth + "]}")
    ),
    # Many values where one row goes.
    st.integers(min_value=1, max_value=500_000).map(
        lambda n: _event('{"instances":[{"a":[' + ",".join(["{}"] * n) + "]}]}")
    ),
    # Not JSON, not text, not base64.
    st.text().map(_event),
    st.binary().map(lambda raw: _event(raw.decode("latin-1"))),
    st.binary().map(lambda raw: _event(base64.b64encode(raw).decode(), base64_encoded=True)),
    st.text().map(lambda text: _event(text, base64_encoded=True)),
    st.lists(mutated_rows(), min_size=1, max_size=3).map(
        lambda rows: _event(
            base64.b64encode(json.dumps({"instances": rows}).encode()).decode(),
            base64_encoded=True,
        )
    ),
    st.just(_event(None)),
)


@pytest.fixture
def document(function: Invoke) -> dict[str, Any]:
    answer: dict[str, Any] = json.loads(function(load_event("openapi"))["body"])
    return answer


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(event=hostile_events)
def test_every_hostile_body_gets_a_documented_client_answer(
    function: Invoke, document: dict[str, Any], event: dict[str, Any]
) -> None:
    response = function(event)

    assert response["statusCode"] in CLIENT_STATUSES, response["body"][:500]
    assert_documented(document, "/predict", "POST", response)
