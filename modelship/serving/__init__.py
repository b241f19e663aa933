"""Serving: what the predict function runs. Its settings (`settings`), the pinned model loaded
from memory, the `/tmp` cache or S3 with integrity checks (`model_store`) and turned into an
estimator by the one loader (`artifacts`), request rows validated against the model's schema
and shaped as its input (`schema`, `request_body`, `unscorable`), the prediction service
(`service`) and a description of what it answers (`output`), errors mapped to HTTP answers
in one place (`http_errors`), its metrics (`observability`), its X-Ray tracing loaded on the
first sampled invocation (`tracing`), its data capture (`capture`),
shadow releases (the state `shadow_state`, the serving side `shadow_mirror`, the shadow
side `shadow`) and OpenAPI document (`openapi`). The predict function imports every module
here at cold start anyway, so these names are imported eagerly (the X-Ray SDK is not one of
them: `tracing` imports it when it first needs it).
"""

from modelship.serving.capture import CaptureRecord, DataCapture, read_capture_object
from modelship.serving.http_errors import (
    ErrorResponse,
    error_response,
    internal_error_response,
    validation_error_response,
)
from modelship.serving.model_store import LoadedModel, ModelStore
from modelship.serving.observability import record_failure, record_prediction, record_reason
from modelship.serving.openapi import openapi_document
from modelship.serving.request_body import decode_body
from modelship.serving.schema import RowSchema
from modelship.serving.service import Health, Prediction, PredictionService
from modelship.serving.settings import PredictSettings
from modelship.serving.shadow import Comparison, compare, handle_mirror
from modelship.serving.shadow_mirror import MirrorEvent, ShadowMirror, record_mirrors
from modelship.serving.shadow_state import ShadowState, read_shadow_state
from modelship.serving.tracing import LazyTracer

__all__ = [
    "CaptureRecord",
    "Comparison",
    "DataCapture",
    "ErrorResponse",
    "Health",
    "LazyTracer",
    "LoadedModel",
    "MirrorEvent",
    "ModelStore",
    "PredictSettings",
    "Prediction",
    "PredictionService",
    "RowSchema",
    "ShadowMirror",
    "ShadowState",
    "compare",
    "decode_body",
    "error_response",
    "handle_mirror",
    "internal_error_response",
    "openapi_document",
    "read_capture_object",
    "read_shadow_state",
    "record_failure",
    "record_mirrors",
    "record_prediction",
    "record_reason",
    "validation_error_response",
]
