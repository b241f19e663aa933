"""Names shared by the runtime, the CLI and the CDK app.

This is the only module `infra_cdk/` may import from the runtime: plain constants and
formulas over them, no imports, so synthesizing never drags in scikit-learn or boto3.
"""

# Environment of the predict function. A release pins the three MODEL_* values.
ENV_MODEL_BUCKET = "MODEL_BUCKET"
ENV_MODEL_NAME = "MODEL_NAME"
ENV_MODEL_VERSION = "MODEL_VERSION"
ENV_MODEL_SHA256 = "MODEL_SHA256"
ENV_MAX_ROWS = "MAX_ROWS"
ENV_MAX_BODY_BYTES = "MAX_BODY_BYTES"
ENV_MODEL_CACHE_DIR = "MODEL_CACHE_DIR"
ENV_EPHEMERAL_STORAGE_MB = "EPHEMERAL_STORAGE_MB"

DEFAULT_MAX_ROWS = 1000
# Lambda's synchronous invocation payload limit is 6 MB; stay under it.
DEFAULT_MAX_BODY_BYTES = 5 * 1024 * 1024
# The smallest MAX_BODY_BYTES the predict function starts with (PredictSettings); the CDK app
# refuses a smaller maxBodyBytes at synth instead of shipping a function whose every cold
# start fails.
MIN_MAX_BODY_BYTES = 1024
DEFAULT_EPHEMERAL_STORAGE_MB = 512
DEFAULT_MODEL_CACHE_DIR = "/tmp/modelship-cache"  # noqa: S108 - Lambda's only writable path

# Observability (Powertools reads these two variables itself).
ENV_POWERTOOLS_SERVICE_NAME = "POWERTOOLS_SERVICE_NAME"
ENV_POWERTOOLS_METRICS_NAMESPACE = "POWERTOOLS_METRICS_NAMESPACE"
# Tracing off (local runs and tests set it; Powertools reads it too).
ENV_POWERTOOLS_TRACE_DISABLED = "POWERTOOLS_TRACE_DISABLED"
# Lambda's reserved variable holding the current invocation's X-Ray trace header
# (Root=...;Parent=...;Sampled=0|1), set by the runtime for each invocation.
ENV_XRAY_TRACE_HEADER = "_X_AMZN_TRACE_ID"
METRICS_NAMESPACE = "modelship"
PREDICT_SERVICE_NAME = "predict"
METRIC_DIMENSION_MODEL_VERSION = "ModelVersion"
METRIC_REQUESTS = "Requests"
METRIC_PREDICTIONS = "Predictions"
METRIC_PREDICTION_ERRORS = "PredictionErrors"
METRIC_CLIENT_ERRORS = "ClientErrors"
METRIC_MODEL_LATENCY = "ModelLatency"
METRIC_MODEL_LOAD_SECONDS = "ModelLoadSeconds"
# Drift signal: numeric inputs outside the training range, over all numeric inputs.
METRIC_OUT_OF_RANGE_VALUES = "OutOfRangeValues"
METRIC_NUMERIC_VALUES = "NumericValues"

# S3 layout of the model bucket.
MODELS_PREFIX = "models"
DATASETS_PREFIX = "datasets"
RELEASES_PREFIX = "releases"
# Retraining: challengers before the gate (candidates/<model>/<run>/) and gate decisions
# (retraining/<model>/<run>/decision.json).
CANDIDATES_PREFIX = "candidates"
RETRAINING_RUNS_PREFIX = "retraining"
MODEL_ARTIFACT_FILE = "model.joblib"
# The same model in skops' format (no arbitrary code runs on load), and the model's own code.
MODEL_SKOPS_FILE = "model.skops"
MODEL_CODE_FILE = "code.zip"
MODEL_MANIFEST_FILE = "manifest.json"

# Lambda wiring.
PREDICT_HANDLER = "functions.predict.app.lambda_handler"
DEFAULT_ALIAS_NAME = "live"

# Releases. The predict function's environment names the scikit-learn version of its
# dependency layer (the CDK app reads it from layers/requirements.txt), so a release can
# refuse a model pickled with another version before any traffic reaches it.
ENV_LAYER_SKLEARN_VERSION = "LAYER_SKLEARN_VERSION"
RELEASE_DESCRIPTION_PREFIX = "modelship release"
# Environment of the release task and rollback functions.
ENV_PREDICT_FUNCTION = "PREDICT_FUNCTION_NAME"
ENV_ALIAS_NAME = "ALIAS_NAME"
ENV_RELEASE_BUCKET = "RELEASE_BUCKET"
ENV_GUARDRAIL_ERROR_RATE = "GUARDRAIL_ERROR_RATE_PERCENT"
ENV_GUARDRAIL_P99_LATENCY_MS = "GUARDRAIL_P99_LATENCY_MS"
ENV_GUARDRAIL_PERIOD_SECONDS = "GUARDRAIL_PERIOD_SECONDS"
ENV_POST_PROMOTION_GUARD_SECONDS = "POST_PROMOTION_GUARD_SECONDS"
RELEASE_HANDLER = "functions.release.app.lambda_handler"
ROLLBACK_HANDLER = "functions.rollback.app.lambda_handler"
RELEASE_SERVICE_NAME = "release"
# Environment of the retraining task and trigger functions.
ENV_TRAINING_ALGORITHM = "TRAINING_ALGORITHM"
# The algorithms modelship.training.training.ALGORITHMS implements (a unit test keeps them equal).
TRAINING_ALGORITHMS = (
    "logistic_regression",
    "random_forest",
    "gradient_boosting",
    "ridge",
    "random_forest_regressor",
    "gradient_boosting_regressor",
)
ENV_TRAINING_PARAMS = "TRAINING_PARAMS"
# The user's training function, "package.module:function" ("" = the built-in algorithms), and
# the directory its code was staged in (the retraining asset's TRAINING_CODE_DIR_NAME, or the
# SageMaker image's /opt/program/training_code).
ENV_TRAINING_ENTRY_POINT = "TRAINING_ENTRY_POINT"
ENV_TRAINING_CODE_DIR = "TRAINING_CODE_DIR"
# Lambda's reserved variable: where the function's code is unpacked (/var/task on AWS).
ENV_LAMBDA_TASK_ROOT = "LAMBDA_TASK_ROOT"
# Lambda's reserved variables naming the running function and its version ($LATEST or a
# number); the predict function mirrors to a shadow version of itself by name.
ENV_LAMBDA_FUNCTION_NAME = "AWS_LAMBDA_FUNCTION_NAME"
ENV_LAMBDA_FUNCTION_VERSION = "AWS_LAMBDA_FUNCTION_VERSION"
TRAINING_CODE_DIR_NAME = "training_code"
# Dotted module path, a colon, a function name: identifiers only (used with fullmatch).
TRAINING_ENTRY_POINT_PATTERN = (
    r"[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*:[A-Za-z_][A-Za-z0-9_]*"
)
ENV_QUALITY_GATES = "QUALITY_GATES"
ENV_RELEASE_PLAN = "RELEASE_PLAN"
ENV_NOTIFY_TOPIC = "NOTIFY_TOPIC_ARN"
ENV_RETRAIN_STATE_MACHINE = "RETRAIN_STATE_MACHINE_ARN"
ROLLBACK_SERVICE_NAME = "rollback"
# Guardrail alarms are named "<prefix><function>-..."; the EventBridge rule matches the prefix.
GUARDRAIL_ALARM_PREFIX = "modelship-guardrail-"
# Alarms for operators (failed rollbacks, dead-letter queues): never the guardrail prefix, so
# the rollback function is not asked to act on its own failures.
OPS_ALARM_PREFIX = "modelship-ops-"
CANARY_ALARM_MARKER = "-canary-v"
DEFAULT_GUARDRAIL_ERROR_RATE_PERCENT = 5.0
DEFAULT_GUARDRAIL_P99_LATENCY_MS = 500.0
DEFAULT_GUARDRAIL_PERIOD_SECONDS = 60
# The static rate alarms judge a period only with at least this many requests in it, and
# each rate threshold times this minimum must reach 100%: one failed request can then never
# cross a threshold on its own.
DEFAULT_GUARDRAIL_MIN_REQUESTS = 20
DEFAULT_GUARDRAIL_THROTTLE_RATE_PERCENT = 10.0
# A canary's error-rate alarm judges a period only with at least this many failed requests in
# it: at low traffic one transient error is a 100% rate, and the canary verdict (not this fast
# path for gross failures) is what weighs a few errors against the stable version's. A broken
# candidate at 1% of 5 requests a second still fails 2 or more in its first minute.
DEFAULT_CANARY_ALARM_MIN_ERRORS = 2
DEFAULT_POST_PROMOTION_GUARD_SECONDS = 3600
# Alias weights are kept to this many decimals (what Lambda's routing config carries well):
# a weight is checked after rounding, so 99.99999% is refused rather than becoming 100%.
WEIGHT_DECIMALS = 6


def guardrail_alarm_prefix(function_name: str) -> str:
    """Every guardrail alarm of this function starts with this (static and canary alarms)."""
    return f"{GUARDRAIL_ALARM_PREFIX}{function_name}-"


# Many models in one deployment. Each model's routes sit under /models/<name>/ (the
# single-model routes stay with the default model); its metrics carry a Model dimension, so
# two models' releases and guardrails never read each other's numbers (their ModelVersion
# values can be equal); and the deployment lists its models in SSM Parameter Store, one
# parameter per model (a JSON DeployedModel, modelship.releases.directory), where the CLI and
# the emulator find each model's function, alias and state machines.
METRIC_DIMENSION_MODEL = "Model"
MODEL_ROUTES_PREFIX = "/models"
# The predict function's list of every model its deployment serves (comma-separated, the
# default first), for the OpenAPI document that covers them all.
ENV_DEPLOYMENT_MODELS = "DEPLOYMENT_MODELS"
DEFAULT_APP_NAME = "modelship"
# A model name of a deployment: it becomes a route segment, a metric dimension value and part
# of resource names (used with fullmatch).
MODEL_NAME_PATTERN = r"[a-z0-9][a-z0-9_-]{0,62}"


# The single-model routes (the default model's), each with its name under /models/<name>/.
# The predict function's routes: (HTTP method, single-model path, its name below
# /models/<name>/). The API's routes, the handler's OpenAPI document and `invoke --url`
# all read this table.
PREDICT_ROUTES = (
    ("POST", "/predict", "predict"),
    ("GET", "/health", "health"),
    ("GET", "/model/info", "info"),
    ("GET", "/openapi.json", "openapi.json"),
)
MODEL_ROUTE_NAMES = {path: route for _, path, route in PREDICT_ROUTES}


def model_routes_prefix(model_name: str) -> str:
    """/models/<name>: the model's predict, health, info and openapi.json routes hang below."""
    return f"{MODEL_ROUTES_PREFIX}/{model_name}"


def model_route(model_name: str, single_model_path: str) -> str | None:
    """The model's route for a single-model route (/predict -> /models/<name>/predict); None
    for a path that is not one."""
    route = MODEL_ROUTE_NAMES.get(single_model_path)
    return f"{model_routes_prefix(model_name)}/{route}" if route else None


def model_directory_path(stack_name: str) -> str:
    """The SSM path under which a deployment (one stack) lists its models."""
    return f"/modelship/{stack_name}/models"


def model_directory_parameter(stack_name: str, model_name: str) -> str:
    return f"{model_directory_path(stack_name)}/{model_name}"


# Model monitoring (docs/monitoring.md). Data capture: the predict function sends a sampled
# share of its requests and answers (one JSON line per request, modelship.serving.capture) to
# the deployment's Firehose delivery stream, which writes them to the model bucket under
# capture/<model>/<model version>/<yyyy>/<MM>/<dd>/<HH>/ (the hour it arrived, UTC).
CAPTURE_PREFIX = "capture"
# Records Firehose could not partition or deliver.
CAPTURE_ERRORS_PREFIX = "capture-errors"
ENV_CAPTURE_STREAM = "CAPTURE_STREAM"
ENV_CAPTURE_SAMPLE_RATE = "CAPTURE_SAMPLE_RATE"
# Comma-separated request fields dropped before capture (personal data).
ENV_CAPTURE_EXCLUDE_FIELDS = "CAPTURE_EXCLUDE_FIELDS"
DEFAULT_CAPTURE_SAMPLE_RATE = 0.05
# Captured requests may hold personal data: capture/ and capture-errors/ expire (cdk.json
# captureRetentionDays).
DEFAULT_CAPTURE_RETENTION_DAYS = 30
METRIC_CAPTURED_REQUESTS = "CapturedRequests"
# Captured requests that never reached Firehose (refused, failed, or dropped when the
# in-memory buffer was full).
METRIC_CAPTURE_FAILURES = "CaptureFailures"

# The drift monitor: a scheduled function per model compares the captured rows of the live
# alias's stable version with that version's training profile (modelship.monitoring) and
# writes a report under monitoring/<model>/drift/.
MONITORING_PREFIX = "monitoring"
MONITOR_HANDLER = "functions.monitor.app.lambda_handler"
MONITOR_SERVICE_NAME = "monitor"
ENV_DRIFT_WINDOW_HOURS = "DRIFT_WINDOW_HOURS"
ENV_DRIFT_PSI_THRESHOLD = "DRIFT_PSI_THRESHOLD"
ENV_DRIFT_P_VALUE = "DRIFT_P_VALUE"
ENV_DRIFT_MIN_ROWS = "DRIFT_MIN_ROWS"
DEFAULT_DRIFT_SCHEDULE = "rate(1 hour)"
DEFAULT_DRIFT_WINDOW_HOURS = 24
DEFAULT_DRIFT_PSI_THRESHOLD = 0.2
DEFAULT_DRIFT_P_VALUE = 0.01
DEFAULT_DRIFT_MIN_ROWS = 200
# The monitor's metrics: {service, Model} for the score (the drift alarm reads it), plus
# {service, Model, Feature} for each feature's PSI. The prediction distribution is reported
# as the feature "(prediction)", a name no feature can have (it is not an identifier).
METRIC_DIMENSION_FEATURE = "Feature"
METRIC_DRIFT_SCORE = "DriftScore"
METRIC_DRIFTED_FEATURES = "DriftedFeatures"
METRIC_FEATURE_PSI = "FeaturePSI"
METRIC_MONITORED_ROWS = "MonitoredRows"
PREDICTION_FEATURE = "(prediction)"

# A registered version's model card, beside its artifact (modelship.registry.card).
MODEL_CARD_FILE = "card.md"
MODEL_CARD_HTML_FILE = "card.html"


def capture_prefix(model_name: str, model_version: str | None = None) -> str:
    """Where a model's (or one version's) captured requests are: hour folders below it."""
    if model_version is None:
        return f"{CAPTURE_PREFIX}/{model_name}/"
    return f"{CAPTURE_PREFIX}/{model_name}/{model_version}/"


def drift_reports_prefix(model_name: str) -> str:
    return f"{MONITORING_PREFIX}/{model_name}/drift/"


# Firehose delivery stream names: 1-64 of [a-zA-Z0-9_.-] (CreateDeliveryStream). The CDK app
# refuses a stack whose stream name would be longer (never cut: two stacks would share one).
MAX_CAPTURE_STREAM_NAME = 64


def capture_stream_name(stack_name: str) -> str:
    """The deployment's delivery stream."""
    return f"{stack_name}-capture"


def dashboard_name(stack_name: str, model_name: str, region: str) -> str:
    """A model's CloudWatch dashboard. Dashboards are global to the account, not per Region,
    so the name carries the Region: one stack deployed in two Regions has two dashboards.
    Names are up to 255 of [A-Za-z0-9_-] (PutDashboard): a stack name (at most 128), a model
    name (at most 63) and a Region code (about 15) stay well within it."""
    return f"{stack_name}-{model_name}-{region}"


# The longest drift window (30 days): the monitor reads at most this far back.
MAX_DRIFT_WINDOW_HOURS = 720
DRIFT_CHECKPOINT_FILE = "checkpoint.json"


def drift_alarm_name(function_name: str) -> str:
    """The drift monitor's alarm on a model's DriftScore (its ALARM starts retraining). Not
    the range-based alarm's old name `modelship-drift-<function>`: CloudFormation creates the
    replacement before deleting the old alarm, and a shared name would delete the new one."""
    return f"modelship-drift-score-{function_name}"


# Canary verdicts (docs/releases.md). At the end of every bake step the release function
# judges the candidate against the stable version over the same window
# (modelship.releases.verdict), from the predict function's per-ModelVersion metrics: error
# rates (a two-proportion test), model latency (a rank test over CloudWatch percentile-rank
# bins) and, for classifiers, the top class probability of up to SCORE_SAMPLES_PER_REQUEST
# rows per request (PredictionScore).
METRIC_PREDICTION_SCORE = "PredictionScore"
SCORE_SAMPLES_PER_REQUEST = 20
ENV_VERDICT_ALPHA = "VERDICT_ALPHA"
ENV_VERDICT_MIN_REQUESTS = "VERDICT_MIN_REQUESTS"
ENV_VERDICT_ERROR_MARGIN_PERCENT = "VERDICT_ERROR_MARGIN_PERCENT"
ENV_VERDICT_LATENCY_TOLERANCE_PERCENT = "VERDICT_LATENCY_TOLERANCE_PERCENT"
ENV_VERDICT_SCORE_SHIFT_MAX = "VERDICT_SCORE_SHIFT_MAX"
ENV_VERDICT_EXTENSION_SECONDS = "VERDICT_EXTENSION_SECONDS"
ENV_VERDICT_MAX_EXTENSIONS = "VERDICT_MAX_EXTENSIONS"
ENV_VERDICT_ON_INCONCLUSIVE = "VERDICT_ON_INCONCLUSIVE"
DEFAULT_VERDICT_ALPHA = 0.01
DEFAULT_VERDICT_MIN_REQUESTS = 100
DEFAULT_VERDICT_ERROR_MARGIN_PERCENT = 1.0
DEFAULT_VERDICT_LATENCY_TOLERANCE_PERCENT = 20.0
DEFAULT_VERDICT_SCORE_SHIFT_MAX = 0.2
DEFAULT_VERDICT_EXTENSION_SECONDS = 120
DEFAULT_VERDICT_MAX_EXTENSIONS = 3
VERDICT_ON_INCONCLUSIVE_CHOICES = ("rollback", "proceed")
DEFAULT_VERDICT_ON_INCONCLUSIVE = "rollback"
# Bounds of the verdict settings, shared by the release function's settings and the CDK app.
# An extension shorter than a minute adds no datapoint: the predict metrics are per minute.
MIN_VERDICT_EXTENSION_SECONDS = 60
MAX_VERDICT_EXTENSION_SECONDS = 86_400
MAX_VERDICT_MAX_EXTENSIONS = 20
MAX_VERDICT_ALPHA = 0.5
MAX_VERDICT_MIN_REQUESTS = 10_000_000
MAX_VERDICT_LATENCY_TOLERANCE_PERCENT = 1000.0

# Shadow releases (docs/releases.md). While shadows/<model>/active.json names a shadow Lambda
# version, the serving versions mirror a sample of their predict requests to it with an
# asynchronous Invoke; the shadow predicts, compares with the served answer and records the
# Shadow* metrics under its own ModelVersion. Users only ever get the served answer, and no
# live alarm reads a Shadow* metric.
SHADOW_PREFIX = "shadows"
SHADOW_EVENT_KEY = "modelship_shadow"
SHADOW_STATE_REFRESH_SECONDS = 30
# Mirrors larger than this are skipped (ShadowSkipped): an asynchronous (Event) Invoke takes
# up to 1 MB (Invoke API reference), and a sample of ordinary requests is what a shadow needs.
SHADOW_MAX_PAYLOAD_BYTES = 256 * 1024
# Mirrors waiting for the sender thread; past this they are dropped (ShadowSkipped).
SHADOW_QUEUE_LIMIT = 1000
METRIC_SHADOW_MIRRORED = "ShadowMirrored"
METRIC_SHADOW_SKIPPED = "ShadowSkipped"
METRIC_SHADOW_REQUESTS = "ShadowRequests"
METRIC_SHADOW_ERRORS = "ShadowErrors"
METRIC_SHADOW_ROWS = "ShadowRows"
METRIC_SHADOW_AGREEING_ROWS = "ShadowAgreeingRows"
METRIC_SHADOW_SCORE_DIFF_SUM = "ShadowScoreDiffSum"
METRIC_SHADOW_SCORE_DIFF_MAX = "ShadowScoreDiffMax"
METRIC_SHADOW_LATENCY = "ShadowLatency"


def shadow_state_key(model_name: str) -> str:
    """The model's running shadow (a JSON ShadowState); absent when none runs."""
    return f"{SHADOW_PREFIX}/{model_name}/active.json"


def shadow_reports_prefix(model_name: str) -> str:
    """Final agreement reports of stopped shadows, write-once."""
    return f"{SHADOW_PREFIX}/{model_name}/reports/"
