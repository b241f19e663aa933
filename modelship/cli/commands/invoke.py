"""`modelship invoke`: one event through the real predict handler in this process, or
through a deployed HTTP API with --url (with --model, to that model's /models/<name>/ route)."""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from modelship import names
from modelship.cli.arguments import output_option
from modelship.cli.targets import (
    ENV_MODEL,
    chosen_model,
    named_model,
    registry_bucket,
    registry_options,
    stack_directory,
)
from modelship.errors import CommandFailed, UsageError

DEFAULT_SANDBOX_MODEL_DIR = Path(".modelship/reference-model")
ENV_API_URL = "MODELSHIP_API_URL"
ENV_API_TOKEN = "MODELSHIP_API_TOKEN"  # noqa: S105 - the variable's name


def register(commands: Any) -> None:
    """Adds `invoke` to the `modelship` parser."""
    invoke = commands.add_parser(
        "invoke",
        parents=[output_option(), registry_options(_MODEL_HELP)],
        help="run the predict handler locally on an event file",
        description=(
            "Runs the real predict handler in this process. With --bucket, --stack (the "
            "deployment's bucket) or $MODELSHIP_BUCKET the model comes from that bucket (AWS, "
            "or the local emulator when AWS_ENDPOINT_URL is set); without one, from an "
            "in-process S3 sandbox holding --model-dir (the reference model is trained there "
            "on first use)."
        ),
    )
    invoke.add_argument("--event", required=True, help="event JSON file, or a name in events/")
    invoke.add_argument(
        "--name",
        help=f"model name, as --model (default: ${ENV_MODEL}; with a stack its only model; "
        "else $MODEL_NAME, churn)",
    )
    invoke.add_argument("--version", default=os.environ.get("MODEL_VERSION", "latest"))
    invoke.add_argument("--model-dir", type=Path, default=DEFAULT_SANDBOX_MODEL_DIR)
    invoke.add_argument("--handler", default=None, help="handler to run (default: predict)")
    invoke.add_argument(
        "--url",
        nargs="?",
        const=os.environ.get(ENV_API_URL) or "",
        help=f"send the event to this HTTP API instead (bare --url: ${ENV_API_URL}, which "
        "`modelship local up` exports), SigV4-signed with boto3's credentials",
    )
    invoke.add_argument(
        "--token",
        default=os.environ.get(ENV_API_TOKEN),
        help=f"with --url: a JWT sent as a Bearer token instead of a signature, for an API "
        f"with authMode jwt (default ${ENV_API_TOKEN}; `modelship local token` mints one)",
    )
    invoke.set_defaults(run=_invoke)


_MODEL_HELP = (
    f"model name (alias of --name; default: ${ENV_MODEL}); with --url, the event goes to "
    "its /models/<model>/ route"
)


def _invoke(args: argparse.Namespace) -> dict[str, Any]:
    from modelship.sample_events import load_event

    event = load_event(args.event)
    model = named_model(args, ("--name", args.name))
    if args.url is not None:
        if args.stack:
            raise UsageError(
                "--stack names the bucket the in-process handler reads; with --url the API "
                "answers from its own deployment: drop --stack"
            )
        # $MODELSHIP_MODEL is a default: it moves single-model routes only, and an event
        # written for a /models/<name>/ route (predict_unknown_model) goes as written.
        given = bool(args.model or args.name)
        if model and (given or names.model_route(model, event.get("rawPath", "/"))):
            event = addressed_to(event, model)
        response = _send_to_api(args.url, event, args.token)
    else:
        with _model_source(args, model) as env:
            response = _run_predict_handler(event, env, args.handler)
    body_text = response.get("body") or ""
    try:
        body: Any = json.loads(body_text)
    except ValueError:
        body = body_text
    status = response.get("statusCode")
    headers = response.get("headers") or {}
    text = f"status {status}  X-Model-Version: {headers.get('X-Model-Version', '-')}\n" + (
        json.dumps(body, indent=2) if not isinstance(body, str) else body
    )
    return {"text": text, "json": {"statusCode": status, "headers": headers, "body": body}}


def addressed_to(event: dict[str, Any], model: str) -> dict[str, Any]:
    """The event sent to the model's route: a single-model route (/predict, /health,
    /model/info, /openapi.json) becomes /models/<model>/predict|health|info|openapi.json; a
    route of that model is kept, one of another model refused."""
    path = event.get("rawPath", "/")
    route = names.model_route(model, path)
    if route is None:
        prefix = f"{names.MODEL_ROUTES_PREFIX}/"
        if path.startswith(f"{names.model_routes_prefix(model)}/"):
            return event
        named = path[len(prefix) :].split("/", 1)[0] if path.startswith(prefix) else None
        raise UsageError(
            f"the event is for model {named!r} ({path}), not --model {model!r}"
            if named
            else f"--model sends the event to a route of the model, but its path {path} is "
            f"not one of {', '.join(names.MODEL_ROUTE_NAMES)}"
        )
    context = event.get("requestContext") or {}
    method = (context.get("http") or {}).get("method", "POST")
    addressed = {**event, "rawPath": route, "routeKey": f"{method} {route}"}
    if context:
        addressed["requestContext"] = {
            **context,
            "routeKey": f"{method} {route}",
            **({"http": {**context["http"], "path": route}} if context.get("http") else {}),
        }
    return addressed


def _send_to_api(url: str, event: dict[str, Any], token: str | None = None) -> dict[str, Any]:
    """The event as the HTTP request API Gateway would have turned into it, signed (or with
    `token` as Bearer); the answer in the handler's response shape."""
    import base64

    from modelship.api_client import ApiClient
    from modelship.api_signing import SigningUnavailable

    if not url.startswith(("http://", "https://")):
        raise CommandFailed(f"--url needs an http(s) URL, or set {ENV_API_URL}; got {url!r}")
    body = event.get("body")
    data = (
        base64.b64decode(body)
        if body is not None and event.get("isBase64Encoded")
        else (body.encode() if body is not None else None)
    )
    method = (event.get("requestContext") or {}).get("http", {}).get("method", "POST")
    query = f"?{event['rawQueryString']}" if event.get("rawQueryString") else ""
    headers = {k: v for k, v in (event.get("headers") or {}).items() if k.lower() != "host"}
    client = ApiClient(url, token=token or None, timeout=30)
    try:
        answer = client.call(method, event.get("rawPath", "/") + query, data, headers)
    except SigningUnavailable as exc:
        raise CommandFailed(str(exc), reason="no_credentials") from None
    except OSError as exc:
        raise CommandFailed(f"cannot reach {url}: {exc}", reason="endpoint_unreachable") from None
    return {
        "statusCode": answer.status,
        "headers": answer.headers,
        "body": answer.body.decode(errors="replace"),
    }


@contextlib.contextmanager
def _model_source(args: argparse.Namespace, model: str | None) -> Iterator[dict[str, str]]:
    """Environment for the handler: a real bucket, or an in-process S3 sandbox. With a stack,
    its bucket and (when no model is named) its only model; $MODEL_NAME does not apply then,
    as it describes one function."""
    import tempfile

    directory = stack_directory(args)
    bucket = registry_bucket(args, directory)
    if not model and directory is not None:
        model = chosen_model(directory, None).model
    name = model or os.environ.get("MODEL_NAME") or "churn"
    cache_dir = tempfile.mkdtemp(prefix="modelship-invoke-")
    base = {
        "MODEL_NAME": name,
        "MODEL_CACHE_DIR": cache_dir,
        "POWERTOOLS_SERVICE_NAME": "predict",
        "POWERTOOLS_METRICS_NAMESPACE": "modelship",
        "POWERTOOLS_TRACE_DISABLED": "true",
    }
    if bucket:
        import boto3

        from modelship.registry.registry import Registry

        version = Registry(boto3.client("s3"), bucket).resolve(name, args.version)
        yield {**base, "MODEL_BUCKET": bucket, "MODEL_VERSION": version}
        return
    from modelship.local.sandbox import s3_sandbox

    with s3_sandbox(args.model_dir, name=name) as (sandbox_bucket, manifest):
        print(
            f"note: no --bucket given; serving {args.model_dir} ({manifest.name} "
            f"{manifest.version}) from an in-process S3 sandbox",
            file=sys.stderr,
        )
        yield {
            **base,
            "MODEL_BUCKET": sandbox_bucket,
            "MODEL_NAME": manifest.name,
            "MODEL_VERSION": manifest.version,
            "MODEL_SHA256": manifest.artifact.sha256,
        }


def _run_predict_handler(event: dict[str, Any], env: dict[str, str], handler: str | None) -> Any:
    from modelship.local.handler_runner import FakeLambdaContext, load_handler, patched_environ
    from modelship.names import PREDICT_HANDLER

    # The handler logs to stdout like on Lambda; keep stdout for the answer.
    with contextlib.redirect_stdout(sys.stderr), patched_environ(env):
        _, function = load_handler(handler or PREDICT_HANDLER)
        return function(event, FakeLambdaContext(function_name="modelship-predict"))
