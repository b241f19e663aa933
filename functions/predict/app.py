"""Predict function: POST /predict, GET /health, GET /model/info, GET /openapi.json, and the
same four under /models/<name>/ (predict, health, info, openapi.json) for its own model; and,
as a shadow version, the mirrored requests of a shadow release."""

import json
import warnings
from typing import Any

import boto3
from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response, content_types
from aws_lambda_powertools.event_handler.exceptions import NotFoundError
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from modelship import names
from modelship.env import load
from modelship.errors import ModelshipError
from modelship.serving.capture import DataCapture
from modelship.serving.http_errors import (
    ErrorResponse,
    error_response,
    internal_error_response,
    validation_error_response,
)
from modelship.serving.model_store import ModelStore
from modelship.serving.observability import (
    record_capture,
    record_failure,
    record_prediction,
    record_reason,
)
from modelship.serving.openapi import openapi_document
from modelship.serving.service import PredictionService
from modelship.serving.settings import PredictSettings
from modelship.serving.shadow import handle_mirror
from modelship.serving.shadow_mirror import ShadowMirror, record_mirrors
from modelship.serving.shadow_state import read_shadow_state
from modelship.serving.tracing import LazyTracer

# /health and /model/info emit no metrics; that is expected, not worth a warning per call.
warnings.filterwarnings("ignore", message="No application metrics to publish")

settings = load(PredictSettings)
logger = Logger()
metrics = Metrics()
# The X-Ray SDK is loaded on the first sampled invocation, not here: see
# modelship.serving.tracing (Lambda active tracing records the init itself).
tracer = LazyTracer(names.PREDICT_SERVICE_NAME)
s3 = boto3.client("s3")
service = PredictionService(
    ModelStore.for_ephemeral_storage(
        s3, settings.model_bucket, settings.cache_dir, settings.ephemeral_storage_mb
    ),
    settings,
)
service.warm()
# Off (no client, no thread) without a stream or at rate 0; see modelship.serving.capture.
capture = DataCapture.for_stream(
    lambda: boto3.client("firehose", config=DataCapture.client_config()),
    settings.capture_stream,
    settings.capture_sample_rate,
    settings.capture_exclude_fields,
)
# Off the request path: see modelship.serving.shadow_mirror. Off when not on Lambda.
shadow = ShadowMirror.for_function(
    lambda: boto3.client("lambda", config=ShadowMirror.client_config()),
    lambda: read_shadow_state(s3, settings.model_bucket, settings.model_name),
    function_name=settings.function_name,
    function_version=settings.function_version,
    model_name=settings.model_name,
    max_body_bytes=settings.max_body_bytes,
)
# Every log line names the release's model, so Logs Insights can filter on it.
logger.append_keys(model_version=service.model_version)
app = APIGatewayHttpResolver(enable_validation=True)
# A route under it names a model; the function answers for its own and 404s the others.
MODEL_ROUTES = names.model_routes_prefix("<name>")


def _json(status: int, body: dict[str, Any], headers: dict[str, str] | None = None):
    return Response(
        status_code=status,
        content_type=content_types.APPLICATION_JSON,
        body=json.dumps(body, separators=(",", ":")),
        headers={"X-Model-Version": service.model_version, **(headers or {})},
    )


def _error(answer: ErrorResponse, detail: str):
    path = app.current_event.path
    record_failure(
        logger,
        metrics,
        answer,
        path=path,
        model_name=settings.model_name,
        model_version=service.model_version,
        detail=detail,
    )
    return _json(answer.status, answer.body)


# The body is parsed and validated in one pass against the model's own row schema (see
# PredictionService.predict_body); the OpenAPI document still describes it.
@app.post("/predict")
def predict():
    event = app.current_event
    prediction = service.predict_event_body(event.body, event.is_base64_encoded)
    record_prediction(metrics, settings.model_name, prediction)
    captured = capture.offer(event.request_context.request_id, prediction, len(event.body or ""))
    record_capture(metrics, captured, capture.take_failures())
    shadow.offer(event.request_context.request_id, event.body, event.is_base64_encoded, prediction)
    record_mirrors(metrics, *shadow.take_counts())
    record_reason(metrics, "ok")
    return _json(200, prediction.body())


@app.get("/health")
def health():
    report = service.health()
    return _json(200 if report.healthy else 503, report.body())


@app.get("/model/info")
def model_info():
    return _json(200, service.info())


@app.get("/openapi.json")
def openapi():
    return _json(200, openapi_document(app, service))


@app.post(f"{MODEL_ROUTES}/predict")
def predict_model(name: str):
    service.check_model(name)
    return predict()


@app.get(f"{MODEL_ROUTES}/health")
def health_model(name: str):
    service.check_model(name)
    return health()


@app.get(f"{MODEL_ROUTES}/info")
def info_model(name: str):
    service.check_model(name)
    return model_info()


@app.get(f"{MODEL_ROUTES}/openapi.json")
def openapi_model(name: str):
    service.check_model(name)
    return openapi()


@app.exception_handler(ModelshipError)
def handle_modelship_error(exc: ModelshipError):
    return _error(error_response(exc, app.current_event.request_context.request_id), str(exc))


@app.exception_handler(RequestValidationError)
def handle_validation_error(exc: RequestValidationError):
    errors = list(exc.errors())
    request_id = app.current_event.request_context.request_id
    return _error(validation_error_response(errors, request_id), f"{len(errors)} error(s)")


# Registered so the catch-all below does not take unrouted requests: a 404 as API Gateway
# answers one, not counted as a predict request.
@app.exception_handler(NotFoundError)
def handle_not_found(exc: NotFoundError):
    return _json(404, {"message": "Not Found"})


# A fault of this code must not become a Lambda function error, which the alias's error
# alarm would count against the release: it is a typed 500, with its traceback in the log.
@app.exception_handler(Exception)
def handle_unexpected_error(exc: Exception):
    logger.exception("unexpected error")
    answer = internal_error_response(app.current_event.request_context.request_id)
    return _error(answer, type(exc).__name__)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
@metrics.log_metrics
@tracer.capture_lambda_handler
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    if names.SHADOW_EVENT_KEY in event:  # a mirror sent to this version as a shadow
        return handle_mirror(event, service, metrics)
    return app.resolve(event, context)
