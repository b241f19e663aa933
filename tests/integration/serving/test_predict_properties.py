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


# The columnar format (`{"columns": {...}}`): the same rows as columns get the same answer,
# and hostile columnar bodies get documented client errors.

FEATURES = sorted(ROW)


def _feature_values(feature: Any) -> st.SearchStrategy[Any]:
    """Values a row may send for one feature of the manifest (within its training range)."""
    if feature.kind == "categorical":
        values: st.SearchStrategy[Any] = st.sampled_from(feature.categories)
    elif feature.dtype == "int":
        low = int(feature.min) if feature.min is not None else -1000
        high = int(feature.max) if feature.max is not None else 1000
        values = st.integers(min_value=low, max_value=high)
    else:
        values = st.floats(
            min_value=feature.min if feature.min is not None else -1e6,
            max_value=feature.max if feature.max is not None else 1e6,
            allow_nan=False,
            allow_infinity=False,
        )
    return st.one_of(st.none(), values) if feature.nullable else values


def _columns_of(rows: list[dict[str, Any]]) -> dict[str, list[Any]]:
    return {name: [row[name] for row in rows] for name in rows[0]}


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_rows_sent_as_columns_get_the_row_answer(
    function: Invoke, published: Any, document: dict[str, Any], data: st.DataObject
) -> None:
    row_values = st.fixed_dictionaries({f.name: _feature_values(f) for f in published.features})
    rows = data.draw(st.lists(row_values, min_size=1, max_size=6), label="rows")

    by_rows = function(_event(json.dumps({"instances": rows})))
    by_columns = function(_event(json.dumps({"columns": _columns_of(rows)})))

    assert (by_rows["statusCode"], by_columns["statusCode"]) == (200, 200), by_columns["body"]
    assert_documented(document, "/predict", "POST", by_columns)
    row_answer, column_answer = json.loads(by_rows["body"]), json.loads(by_columns["body"])
    assert column_answer["predictions"] == row_answer["predictions"]
    assert len(column_answer["predictions"]) == len(rows)
    classes = column_answer["classes"]
    assert sorted(classes) == sorted(row_answer["probabilities"][0])
    assert [
        dict(zip(classes, matrix_row, strict=True)) for matrix_row in column_answer["probabilities"]
    ] == row_answer["probabilities"]
    assert (column_answer["model_name"], column_answer["model_version"]) == (
        row_answer["model_name"],
        row_answer["model_version"],
    )


@st.composite
def hostile_columns(draw: st.DrawFn) -> dict[str, Any]:
    """The sample row as columns of one length, then broken for sure (a column made longer
    or shorter, a feature dropped, an unknown one added) and perhaps more (values or whole
    columns replaced by any JSON)."""
    length = draw(st.integers(min_value=1, max_value=4))
    columns: dict[str, Any] = {name: [ROW[name]] * length for name in FEATURES}
    broken, *others = draw(st.lists(st.sampled_from(FEATURES), min_size=1, max_size=3, unique=True))
    action = draw(st.sampled_from(["lengthen", "shorten", "drop", "unknown"]))
    if action == "lengthen":
        columns[broken] = columns[broken] + [ROW[broken]] * draw(st.integers(1, 3))
    elif action == "shorten":
        columns[broken] = columns[broken][: draw(st.integers(0, length - 1))]
    elif action == "drop":
        columns.pop(broken)
    else:
        unknown = st.text(max_size=20).filter(lambda key: key not in ROW)
        columns.update(draw(st.dictionaries(unknown, json_values, min_size=1, max_size=2)))
    for name in others:
        if draw(st.booleans()):
            column = list(columns[name])
            column[draw(st.integers(0, len(column) - 1))] = draw(json_values)
            columns[name] = column
        else:
            columns[name] = draw(json_values)
    return columns


def _valid_columns(length: int, *without: str) -> dict[str, list[Any]]:
    return {name: [ROW[name]] * length for name in FEATURES if name not in without}


hostile_columnar_events = st.one_of(
    # Columns almost right: unequal lengths, wrong types, missing or unknown features.
    hostile_columns().map(lambda columns: _event(json.dumps({"columns": columns}))),
    # Both formats in one body, in either order (the first key picks the parser).
    st.booleans().map(
        lambda columns_first: _event(
            json.dumps(
                {"columns": _valid_columns(1), "instances": [ROW]}
                if columns_first
                else {"instances": [ROW], "columns": _valid_columns(1)}
            )
        )
    ),
    # Anything JSON in place of `columns`, of one column, or beside `columns`.
    json_values.map(lambda value: _event(json.dumps({"columns": value}))),
    # (A list of two values could be a valid column: another length or not a list.)
    st.tuples(
        st.sampled_from(FEATURES),
        json_values.filter(lambda value: not (isinstance(value, list) and len(value) == 2)),
    ).map(lambda pair: _event(json.dumps({"columns": {**_valid_columns(2), pair[0]: pair[1]}}))),
    st.dictionaries(st.text(max_size=10), json_values, min_size=1, max_size=3).map(
        lambda extra: _event(json.dumps({"columns": _valid_columns(1), **extra}))
    ),
    # Nested junk: a column of arrays, deep nesting where a value goes.
    st.integers(min_value=1, max_value=20_000).map(
        lambda depth: _event('{"columns":{"tenure_months":[' + "[" * depth + "]" * depth + "]}}")
    ),
    # Huge arrays: past maxRows, or one long column of values in an otherwise valid body.
    st.integers(min_value=1001, max_value=3000).map(
        lambda n: _event(json.dumps({"columns": _valid_columns(n)}))
    ),
    st.integers(min_value=2, max_value=500_000).map(
        lambda n: _event(
            json.dumps({"columns": {**_valid_columns(1, "tenure_months"), "tenure_months": []}})[
                :-3
            ]
            + ",".join(["1"] * n)
            + "]}}"
        )
    ),
    # Truncated or not JSON after a columnar start.
    st.text(max_size=50).map(lambda tail: _event('{"columns":' + tail)),
)


COLUMNAR_ERROR_CODES = {
    400: {"malformed_json"},
    413: {"too_many_rows", "too_many_fields", "body_too_large"},
    422: {"schema_mismatch"},
}


@settings(
    max_examples=120,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(event=hostile_columnar_events)
def test_every_hostile_columnar_body_gets_a_typed_client_error(
    function: Invoke, document: dict[str, Any], event: dict[str, Any]
) -> None:
    response = function(event)

    assert response["statusCode"] in {400, 413, 422}, response["body"][:500]
    assert_documented(document, "/predict", "POST", response)
    error = json.loads(response["body"])["error"]
    assert error["code"] in COLUMNAR_ERROR_CODES[response["statusCode"]], error
    assert error["message"], error
    if response["statusCode"] == 422:
        # Every refusal names what is wrong: a field, or the envelope (field null).
        assert error["details"], error
        assert all({"row", "field", "type", "message"} <= set(d) for d in error["details"])
