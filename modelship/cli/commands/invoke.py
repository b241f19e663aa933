"""`modelship invoke`: one event through the real predict handler in this process, or
through a deployed HTTP API with --url."""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from modelship.cli.arguments import add_bucket_option, output_option
from modelship.errors import CommandFailed

DEFAULT_SANDBOX_MODEL_DIR = Path(".modelship/reference-model")
ENV_API_URL = "MODELSHIP_API_URL"


def register(commands: Any) -> None:
    """Adds `invoke` to the `modelship` parser."""
    invoke = commands.add_parser(
        "invoke",
        parents=[output_option()],
        help="run the predict handler locally on an event file",
        description=(
            "Runs the real predict handler in this process. With --bucket (or "
            "$MODELSHIP_BUCKET) the model comes from that bucket (AWS, or the local emulator "
            "when AWS_ENDPOINT_URL is set); without one, from an in-process S3 sandbox holding "
            "--model-dir (the reference model is trained there on first use)."
        ),
    )
    invoke.add_argument("--event", required=True, help="event JSON file, or a name in events/")
    invoke.add_argument("--name", default=os.environ.get("MODEL_NAME", "churn"))
    invoke.add_argument("--version", default=os.environ.get("MODEL_VERSION", "latest"))
    invoke.add_argument("--model-dir", type=Path, default=DEFAULT_SANDBOX_MODEL_DIR)
    invoke.add_argument("--handler", default=None, help="handler to run (default: predict)")
    invoke.add_argument(
        "--url",
        nargs="?",
        const=os.environ.get(ENV_API_URL) or "",
        help=f"send the event to this HTTP API instead (bare --url: ${ENV_API_URL}, which "
        "`modelship local up` exports)",
    )
    add_bucket_option(invoke, required=False)
    invoke.set_defaults(run=_invoke)


def _invoke(args: argparse.Namespace) -> dict[str, Any]:
    from modelship.sample_events import load_event

    event = load_event(args.event)
    if args.url is not None:
        response = _send_to_api(args.url, event)
    else:
        with _model_source(args) as env:
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


def _send_to_api(url: str, event: dict[str, Any]) -> dict[str, Any]:
    """The event as the HTTP request API Gateway would have turned into it; the answer in
    the handler's response shape."""
    import base64
    import urllib.error
    import urllib.request

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
    request = urllib.request.Request(  # noqa: S310 (http(s) checked above)
        url.rstrip("/") + event.get("rawPath", "/") + query,
        data=data,
        method=method,
        headers={k: v for k, v in (event.get("headers") or {}).items() if k.lower() != "host"},
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:  # noqa: S310 (http(s) checked above)
            status, headers, text = answer.status, dict(answer.headers), answer.read()
    except urllib.error.HTTPError as error:
        status, headers, text = error.code, dict(error.headers), error.read()
    except (urllib.error.URLError, OSError) as exc:
        raise CommandFailed(f"cannot reach {url}: {exc}", reason="endpoint_unreachable") from None
    return {"statusCode": status, "headers": headers, "body": text.decode(errors="replace")}


@contextlib.contextmanager
def _model_source(args: argparse.Namespace) -> Iterator[dict[str, str]]:
    """Environment for the handler: a real bucket, or an in-process S3 sandbox."""
    import tempfile

    cache_dir = tempfile.mkdtemp(prefix="modelship-invoke-")
    base = {
        "MODEL_NAME": args.name,
        "MODEL_CACHE_DIR": cache_dir,
        "POWERTOOLS_SERVICE_NAME": "predict",
        "POWERTOOLS_METRICS_NAMESPACE": "modelship",
        "POWERTOOLS_TRACE_DISABLED": "true",
    }
    if args.bucket:
        import boto3

        from modelship.registry.registry import Registry

        version = Registry(boto3.client("s3"), args.bucket).resolve(args.name, args.version)
        yield {**base, "MODEL_BUCKET": args.bucket, "MODEL_VERSION": version}
        return
    from modelship.local.sandbox import s3_sandbox

    with s3_sandbox(args.model_dir, name=args.name) as (bucket, manifest):
        print(
            f"note: no --bucket given; serving {args.model_dir} ({manifest.name} "
            f"{manifest.version}) from an in-process S3 sandbox",
            file=sys.stderr,
        )
        yield {
            **base,
            "MODEL_BUCKET": bucket,
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
