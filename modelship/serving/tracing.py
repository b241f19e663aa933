"""X-Ray subsegments for the predict function, with the X-Ray SDK loaded on the first
sampled invocation instead of at cold start.

Lambda active tracing (the function's TracingConfig) records every sampled invocation
without any SDK in the function: the function's segment with its Initialization (the whole
init, model fetch included), Invocation and Overhead subsegments. The SDK adds what happens
inside an invocation: a `## lambda_handler` subsegment annotated ColdStart and Service, and
one subsegment per AWS call (botocore is patched: the capture stream, the shadow mirror, a
model fetched after a failed warm-up).

Building Powertools' Tracer at init costs a cold start its X-Ray SDK import and, with the
default patch_all, the import of every library the SDK can patch (docs/performance.md,
section 3), for nothing the init could show: the SDK discards subsegments made before the
first invocation (no trace header yet). Here the SDK is loaded when the first invocation
whose trace header says Sampled=1 arrives, and only botocore is patched; an unsampled
invocation, whose subsegments the SDK would drop anyway, never touches it.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, TypeVar

from modelship import names

if TYPE_CHECKING:
    from aws_lambda_powertools import Tracer

# The only library the function calls out through (boto3); the SDK patches the client class,
# so clients created at init are traced too.
PATCHED_MODULES = ("botocore",)
# Powertools' spelling of true (aws_lambda_powertools.shared.functions.strtobool).
_TRUE = frozenset({"1", "y", "yes", "t", "true", "on"})
# Set by `sam local` and `chalice local`, where no X-Ray daemon listens; Powertools turns its
# Tracer off there too.
_LOCAL_EMULATORS = ("AWS_SAM_LOCAL", "AWS_CHALICE_CLI_MODE")
# Lambda's reserved variable; an environment initialized for provisioned concurrency has no
# cold invocation (Powertools' ColdStart annotation follows the same rule).
_INITIALIZATION_TYPE = "AWS_LAMBDA_INITIALIZATION_TYPE"

Event = TypeVar("Event")


def tracing_enabled(environ: Mapping[str, str] | None = None) -> bool:
    """On in Lambda unless POWERTOOLS_TRACE_DISABLED says otherwise, as Powertools decides."""
    env = os.environ if environ is None else environ
    if env.get(names.ENV_POWERTOOLS_TRACE_DISABLED, "false").strip().lower() in _TRUE:
        return False
    if not env.get(names.ENV_LAMBDA_TASK_ROOT):
        return False
    return not any(env.get(name) for name in _LOCAL_EMULATORS)


def is_sampled(trace_header: str | None) -> bool:
    """Whether X-Ray records this invocation: `Sampled=1` in its trace header."""
    for part in (trace_header or "").split(";"):
        key, _, value = part.strip().partition("=")
        if key == "Sampled":
            return value == "1"
    return False


class LazyTracer:
    """Traces sampled invocations of a handler; builds Powertools' Tracer on the first one."""

    def __init__(self, service: str, *, enabled: bool | None = None) -> None:
        self.service = service
        self.enabled = tracing_enabled() if enabled is None else enabled
        self._tracer: Tracer | None = None
        self._cold_start = True

    @property
    def built(self) -> bool:
        return self._tracer is not None

    def tracer(self) -> Tracer:
        """Powertools' Tracer, built (X-Ray SDK imported, botocore patched) on first use."""
        if self._tracer is None:
            from aws_lambda_powertools import Tracer

            self._tracer = Tracer(service=self.service, patch_modules=PATCHED_MODULES)
        return self._tracer

    def capture_lambda_handler(
        self, handler: Callable[[Event, Any], dict[str, Any]]
    ) -> Callable[[Event, Any], dict[str, Any]]:
        """Wraps the handler in a `## <name>` subsegment annotated ColdStart and Service, as
        Powertools' decorator does, without its response metadata: a batch's predictions
        are data, and a segment document over 64 KB is not sent at all."""
        name = f"## {handler.__name__}"

        @functools.wraps(handler)
        def traced(event: Event, context: Any) -> dict[str, Any]:
            cold_start, self._cold_start = self._cold_start, False
            cold_start &= os.environ.get(_INITIALIZATION_TYPE) != "provisioned-concurrency"
            if not self.enabled or not is_sampled(os.environ.get(names.ENV_XRAY_TRACE_HEADER)):
                return handler(event, context)
            with self.tracer().provider.in_subsegment(name=name) as subsegment:
                subsegment.put_annotation(key="ColdStart", value=cold_start)
                subsegment.put_annotation(key="Service", value=self.service)
                return handler(event, context)

        return traced
