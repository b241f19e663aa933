"""The `modelship` command line. Every command takes `--output json`; every failure, usage
errors included, exits 1 with one line on stderr naming its reason code (one JSON object
under `--output json`), as mapped by `modelship.cli.errors`."""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, NoReturn

from modelship.errors import CommandFailed, ModelNotFound, UsageError

Handler = Callable[[argparse.Namespace], Any]
DEFAULT_SANDBOX_MODEL_DIR = Path(".modelship/reference-model")
ENV_API_URL = "MODELSHIP_API_URL"


class _Parser(argparse.ArgumentParser):
    """argparse exits 2 with a usage banner; here a bad command line is one more failure."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{self.prog}: {message} (see `{self.prog} --help`)")


def _common() -> _Parser:
    common = _Parser(add_help=False)
    common.add_argument(
        "--output", choices=("text", "json"), default="text", help="output format (default text)"
    )
    return common


def _bucket_arg(parser: argparse.ArgumentParser, required: bool = True) -> None:
    parser.add_argument(
        "--bucket",
        default=os.environ.get("MODELSHIP_BUCKET") or os.environ.get("MODEL_BUCKET"),
        help="model bucket (default: $MODELSHIP_BUCKET)",
    )
    parser.set_defaults(bucket_required=required)


def build_parser() -> argparse.ArgumentParser:
    common = _common()
    parser = _Parser(prog="modelship", description="Ship scikit-learn models to AWS Lambda safely.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    train = commands.add_parser(
        "train", parents=[common], help="train a model and write model.joblib + manifest.json"
    )
    train.add_argument("--name", default="churn", help="model name (default churn)")
    train.add_argument("--out", type=Path, required=True, help="empty directory to write to")
    train.add_argument(
        "--data", default="churn", help="'churn' for the reference dataset, or a CSV path"
    )
    train.add_argument("--target", help="target column of the CSV (default churned)")
    train.add_argument("--categorical", default="", help="comma-separated categorical columns")
    train.add_argument("--numeric", default="", help="comma-separated numeric columns")
    train.add_argument("--rows", type=int, default=6000, help="reference dataset rows")
    train.add_argument("--seed", type=int, default=7, help="reference dataset seed")
    train.add_argument("--drift", type=float, default=0.0, help="reference dataset drift, 0..1")
    train.add_argument("--algorithm", default="logistic_regression")
    train.add_argument(
        "--param", action="append", default=[], metavar="KEY=VALUE", help="hyperparameter"
    )
    train.add_argument("--holdout", type=float, default=0.2, help="holdout fraction")
    train.add_argument("--version", help="version id (default: timestamp plus random suffix)")
    train.add_argument("--parent", help="parent model version, for lineage")
    train.set_defaults(run=_train)

    data = commands.add_parser("data", help="the reference dataset")
    data_commands = data.add_subparsers(dest="data_command", required=True, metavar="ACTION")
    export = data_commands.add_parser(
        "export",
        parents=[common],
        help="write the reference churn data as CSV: the format `train --data` and retraining read",
    )
    export.add_argument("--out", type=Path, required=True, help="CSV file to write (new)")
    export.add_argument("--rows", type=int, default=6000, help="rows (default 6000)")
    export.add_argument("--seed", type=int, default=7, help="random seed (default 7)")
    export.add_argument("--drift", type=float, default=0.0, help="population drift, 0..1")
    export.set_defaults(run=_export_data)

    models = commands.add_parser("models", help="the model registry in S3")
    model_commands = models.add_subparsers(dest="models_command", required=True, metavar="ACTION")
    publish = model_commands.add_parser("publish", parents=[common], help="publish a model dir")
    publish.add_argument("model_dir", type=Path)
    _bucket_arg(publish)
    publish.set_defaults(run=_publish)
    listing = model_commands.add_parser("list", parents=[common], help="list models or versions")
    listing.add_argument("name", nargs="?", help="model name (omit to list model names)")
    _bucket_arg(listing)
    listing.set_defaults(run=_list)
    show = model_commands.add_parser("show", parents=[common], help="show a version's manifest")
    show.add_argument("name")
    show.add_argument("version", nargs="?", default="latest")
    _bucket_arg(show)
    show.set_defaults(run=_show)

    invoke = commands.add_parser(
        "invoke",
        parents=[common],
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
    _bucket_arg(invoke, required=False)
    invoke.set_defaults(run=_invoke)

    from modelship.cli import local as cli_local
    from modelship.cli import releases as cli_releases
    from modelship.cli import retraining as cli_retraining

    cli_releases.register(commands, common)
    cli_retraining.register(commands, common)
    cli_local.register(commands, common)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    from modelship.cli.errors import failure_of, report

    arguments = list(sys.argv[1:] if argv is None else argv)
    output = _requested_output(arguments)
    try:
        args = build_parser().parse_args(arguments)
        output = args.output if hasattr(args, "output") else output
        if getattr(args, "bucket_required", False) and not args.bucket:
            raise UsageError("--bucket is required (or set MODELSHIP_BUCKET)")
        result = args.run(args)
        if result is not None:
            _emit(args, result)
            sys.stdout.flush()
    except BrokenPipeError:
        return _reader_gone()
    except Exception as exc:
        failure = failure_of(exc)
        if failure is None:
            raise
        report(failure, output)
        return 1
    return 0


def _requested_output(arguments: list[str]) -> str:
    """`--output` as given, for failures found before the command line is parsed."""
    for index, argument in enumerate(arguments):
        if argument == "--output" and index + 1 < len(arguments):
            return arguments[index + 1]
        if argument.startswith("--output="):
            return argument.partition("=")[2]
    return "text"


def _reader_gone() -> int:
    """`modelship history | head`: the reader closed the pipe. Later writes (and the flush
    at exit) go nowhere instead of raising again."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):
        pass  # not a real file descriptor (e.g. under test capture)
    return 1


def _emit(args: argparse.Namespace, result: Any) -> None:
    if args.output == "json":
        print(json.dumps(result.get("json", result), indent=2, default=str))
    else:
        print(result.get("text", json.dumps(result, indent=2, default=str)))


def _s3() -> Any:
    import boto3

    return boto3.client("s3")


def _train(args: argparse.Namespace) -> dict[str, Any]:
    from modelship.training.churn import CHURN_TARGET, generate_churn
    from modelship.training.csv_reader import read_csv
    from modelship.training.training import TrainingSpec, train, write_model

    if args.data == "churn":
        table = generate_churn(n_rows=args.rows, seed=args.seed, drift=args.drift)
        data_uri = f"generated:churn?rows={args.rows}&seed={args.seed}&drift={args.drift}"
    else:
        table = read_csv(
            Path(args.data),
            target=args.target or CHURN_TARGET,
            categorical=_csv_list(args.categorical),
            numeric=_csv_list(args.numeric),
        )
        data_uri = Path(args.data).resolve().as_uri()
    spec = TrainingSpec(
        name=args.name,
        algorithm=args.algorithm,
        params=_params(args.param),
        holdout_fraction=args.holdout,
        version=args.version,
        parent_version=args.parent,
        data_uri=data_uri,
    )
    manifest = write_model(train(table, spec), args.out)
    metrics = {k: round(v, 4) for k, v in manifest.metrics.items()}
    headline = (
        f"holdout ROC-AUC {metrics['roc_auc']:.4f}"
        if "roc_auc" in metrics
        else f"RMSE {metrics.get('rmse')}"
    )
    text = (
        f"trained {manifest.name} version {manifest.version} ({manifest.estimator.algorithm}, "
        f"{table.n_rows} rows): {headline}\n"
        f"metrics: {json.dumps(metrics)}\n"
        f"wrote {args.out / manifest.artifact.file} ({manifest.artifact.size_bytes} bytes, "
        f"sha256 {manifest.artifact.sha256[:12]}...) and manifest.json"
    )
    return {
        "text": text,
        "json": {
            "name": manifest.name,
            "version": manifest.version,
            "metrics": manifest.metrics,
            "artifact": manifest.artifact.model_dump(),
            "out": str(args.out),
        },
    }


def _export_data(args: argparse.Namespace) -> dict[str, Any]:
    from modelship.training.churn import CHURN_TARGET, generate_churn
    from modelship.training.tables import write_csv

    if args.out.exists():
        raise CommandFailed(f"{args.out} exists; choose a new file")
    if args.rows < 1 or not 0.0 <= args.drift <= 1.0:
        raise CommandFailed("--rows must be at least 1 and --drift between 0 and 1")
    table = generate_churn(n_rows=args.rows, seed=args.seed, drift=args.drift)
    write_csv(table, args.out)
    columns = [*table.feature_names, CHURN_TARGET]
    return {
        "text": f"wrote {table.n_rows} rows to {args.out}: columns {', '.join(columns)} "
        f"(target {CHURN_TARGET})",
        "json": {"out": str(args.out), "rows": table.n_rows, "columns": columns},
    }


def _publish(args: argparse.Namespace) -> dict[str, Any]:
    from modelship.registry.registry import Registry, version_prefix

    manifest = Registry(_s3(), args.bucket).publish(args.model_dir)
    location = f"s3://{args.bucket}/{version_prefix(manifest.name, manifest.version)}"
    return {
        "text": f"published {manifest.name} version {manifest.version} to {location}",
        "json": {
            "name": manifest.name,
            "version": manifest.version,
            "sha256": manifest.artifact.sha256,
            "location": location,
        },
    }


def _list(args: argparse.Namespace) -> dict[str, Any]:
    from modelship.registry.registry import Registry

    registry = Registry(_s3(), args.bucket)
    if not args.name:
        names = registry.list_models()
        return {"text": "\n".join(names) or "(no models)", "json": {"models": names}}
    entries = registry.list_versions(args.name)
    if not entries:
        known = registry.list_models()
        raise ModelNotFound(
            f"no model named {args.name} in s3://{args.bucket} "
            f"(models: {', '.join(known) or 'none'})"
        )
    rows = [{"version": e.version, "published_at": e.published_at.isoformat()} for e in entries]
    lines = [f"{r['version']:<40} {r['published_at']}" for r in rows]
    return {
        "text": "\n".join([f"{'VERSION':<40} PUBLISHED", *lines]),
        "json": {"name": args.name, "versions": rows},
    }


def _show(args: argparse.Namespace) -> dict[str, Any]:
    from modelship.registry.registry import Registry

    manifest = Registry(_s3(), args.bucket).show(args.name, args.version)
    document = json.loads(manifest.model_dump_json(exclude={"profile"}))
    features = ", ".join(f"{f.name}:{f.kind}" for f in manifest.features)
    algorithm = manifest.estimator.algorithm
    text = "\n".join(
        [
            f"{manifest.name} {manifest.version}  ({manifest.task}, {algorithm})",
            f"created   {manifest.created_at.isoformat()}",
            f"sha256    {manifest.artifact.sha256}  ({manifest.artifact.size_bytes} bytes)",
            f"sklearn   {manifest.runtime.sklearn}   python {manifest.runtime.python}",
            f"metrics   {json.dumps({k: round(v, 4) for k, v in manifest.metrics.items()})}",
            f"data      {manifest.training_data.uri}",
            f"parent    {manifest.parent_version or '-'}",
            f"features  {features}",
        ]
    )
    return {"text": text, "json": document}


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
        from modelship.registry.registry import Registry

        version = Registry(_s3(), args.bucket).resolve(args.name, args.version)
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


def _csv_list(value: str) -> list[str]:
    return [part.strip() for part in value.split(",") if part.strip()]


def _params(pairs: list[str]) -> dict[str, float | int | str | bool | None]:
    params: dict[str, float | int | str | bool | None] = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        if not sep or not key:
            raise CommandFailed(f"--param {pair!r} is not KEY=VALUE")
        params[key.strip()] = _parse_scalar(raw.strip())
    return params


def _parse_scalar(raw: str) -> float | int | str | bool | None:
    lowered = raw.lower()
    if lowered in {"none", "null"}:
        return None
    if lowered in {"true", "false"}:
        return lowered == "true"
    for convert in (int, float):
        try:
            return convert(raw)
        except ValueError:
            pass
    return raw


if __name__ == "__main__":
    # Run as `python -m modelship.cli.main`: delegate to the imported module, so the exception
    # classes the subcommand modules raise are the ones main() catches.
    from modelship.cli.main import main as imported_main

    sys.exit(imported_main())
