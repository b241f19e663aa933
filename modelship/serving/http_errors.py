"""The one place where errors become HTTP answers: fixed status, reason code and message.

Bodies never carry exception text: the operator-facing detail goes to the log; the
caller gets a stable `code` to branch on and, for schema errors, the row and field.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from modelship.errors import (
    ConfigurationError,
    MalformedRequest,
    ModelNotFound,
    ModelshipError,
    ModelUnavailable,
    PayloadTooLarge,
    RequestError,
    SchemaMismatch,
    UndecodableBody,
    UnknownModel,
    UnscorableInput,
)


@dataclass(frozen=True)
class ErrorResponse:
    status: int
    body: dict[str, Any]

    @property
    def is_server_error(self) -> bool:
        return self.status >= 500


# Answered only on /models/<name>/ routes, when <name> is not this function's model.
UNKNOWN_MODEL_STATUS = 404

_STATUS_AND_MESSAGE: list[tuple[type[ModelshipError], int, str]] = [
    (MalformedRequest, 400, "The request body is not valid JSON."),
    (UndecodableBody, 400, "The request body could not be decoded as base64 UTF-8 text."),
    (PayloadTooLarge, 413, "The request is too large."),
    (SchemaMismatch, 422, "The request does not match the model's input schema."),
    (UnscorableInput, 422, "The model cannot score some of the request's values."),
    (UnknownModel, UNKNOWN_MODEL_STATUS, "This function serves no model of that name."),
    (RequestError, 400, "The request is not valid."),
    (ModelUnavailable, 503, "The model is not available."),
    (ModelNotFound, 503, "The model is not available."),
    (ConfigurationError, 503, "The service is misconfigured."),
]

# Every error status an answer of a route can carry: the OpenAPI document lists each with its
# body (and UNKNOWN_MODEL_STATUS on the /models/<name>/ routes).
ERROR_STATUSES = tuple(
    sorted(
        {status for error, status, _ in _STATUS_AND_MESSAGE if error is not UnknownModel} | {500}
    )
)


def error_response(exc: ModelshipError, request_id: str | None = None) -> ErrorResponse:
    status, message = 500, "Internal error."
    for error_type, mapped_status, mapped_message in _STATUS_AND_MESSAGE:
        if isinstance(exc, error_type):
            status, message = mapped_status, mapped_message
            break
    reason = exc.reason if status != 500 else "internal_error"
    error: dict[str, Any] = {"code": reason, "message": message}
    if isinstance(exc, SchemaMismatch | UnscorableInput):
        error["details"] = exc.errors
    return ErrorResponse(status, _envelope(error, request_id))


def validation_error_response(errors: list[Any], request_id: str | None = None) -> ErrorResponse:
    """Powertools' request validation: undecodable JSON is a 400, a wrong shape a 422."""
    if any(e.get("type") == "json_invalid" for e in errors):
        return error_response(MalformedRequest("body is not JSON"), request_id)
    details = []
    for e in errors[:50]:
        loc = [str(part) for part in e.get("loc", ()) if part != "body"]
        details.append(
            {
                "row": None,
                "field": ".".join(loc) or None,
                "type": e.get("type"),
                "message": e.get("msg"),
            }
        )
    error = {
        "code": SchemaMismatch.reason,
        "message": "The request does not match the expected shape.",
        "details": details,
    }
    return ErrorResponse(422, _envelope(error, request_id))


def internal_error_response(request_id: str | None = None) -> ErrorResponse:
    return ErrorResponse(
        500, _envelope({"code": "internal_error", "message": "Internal error."}, request_id)
    )


def _envelope(error: dict[str, Any], request_id: str | None) -> dict[str, Any]:
    body: dict[str, Any] = {"error": error}
    if request_id:
        body["request_id"] = request_id
    return body
