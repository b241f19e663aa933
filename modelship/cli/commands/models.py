"""`modelship models package|publish|list|show|card`: models fitted elsewhere packaged into a
model directory, and the model registry in S3 (the bucket: --bucket, or a deployment's with
--stack; see modelship.cli.targets)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from modelship.cli.arguments import description_of, description_options, output_option
from modelship.cli.targets import (
    ENV_MODEL,
    named_model,
    registry_bucket,
    registry_options,
    required_bucket,
    stack_directory,
)
from modelship.errors import CommandFailed, ModelNotFound, UsageError


def register(commands: Any) -> None:
    """Adds `models` to the `modelship` parser."""
    common = output_option()
    models = commands.add_parser("models", help="package models; the model registry in S3")
    model_commands = models.add_subparsers(dest="models_command", required=True, metavar="ACTION")
    packaging = model_commands.add_parser(
        "package",
        parents=[common, description_options()],
        help="package a model fitted elsewhere into a model dir",
    )
    packaging.add_argument("model", type=Path, help="the saved model: .joblib, .pkl or .skops")
    packaging.add_argument(
        "--sample", type=Path, required=True, help="rows of the model's input (CSV or Parquet)"
    )
    packaging.add_argument("--target", help="the sample's label column (for holdout metrics)")
    packaging.add_argument("--name", help="model name (default: the model file's stem)")
    packaging.add_argument("--version", help="version id (default: a new time-ordered id)")
    packaging.add_argument(
        "--code",
        type=Path,
        action="append",
        default=[],
        metavar="PATH",
        help="a module file or package directory of the model's own code (repeatable)",
    )
    packaging.add_argument(
        "--format",
        dest="artifact_format",
        choices=["joblib", "skops"],
        help="artifact format (default: the model file's)",
    )
    packaging.add_argument(
        "--trust",
        dest="trusted_types",
        action="append",
        default=[],
        metavar="TYPE",
        help="skops: trust this type beyond the defaults, e.g. _operator.neg (repeatable)",
    )
    packaging.add_argument(
        "--columns", type=Path, metavar="JSON", help="per-column schema overrides (a JSON file)"
    )
    packaging.add_argument("--out", type=Path, required=True, help="the model dir to write")
    packaging.set_defaults(run=_package)
    publish = model_commands.add_parser(
        "publish",
        parents=[common, registry_options(_PUBLISH_MODEL_HELP)],
        help="publish a model dir",
    )
    publish.add_argument("model_dir", type=Path)
    publish.set_defaults(run=_publish)
    listing = model_commands.add_parser(
        "list",
        parents=[common, registry_options("model whose versions to list, as NAME")],
        help="list models or versions",
    )
    listing.add_argument("name", nargs="?", help="model name (omit to list model names)")
    listing.set_defaults(run=_list)
    show = model_commands.add_parser(
        "show",
        parents=[common, registry_options(f"model to show, as NAME (default: ${ENV_MODEL})")],
        help="show a version's manifest",
    )
    _version_arguments(show)
    show.set_defaults(run=_show)
    card = model_commands.add_parser(
        "card",
        parents=[common, registry_options(f"model whose card to print (default: ${ENV_MODEL})")],
        help="print (or open) a version's model card",
    )
    _version_arguments(card)
    card.add_argument("--html", action="store_true", help="the HTML card instead of Markdown")
    card.add_argument("--out", type=Path, metavar="FILE", help="write the card to FILE")
    card.add_argument(
        "--open", action="store_true", help="write the HTML card to a temp file and open it"
    )
    card.set_defaults(run=_card)


def _version_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("name", nargs="?", help="model name (or --model)")
    parser.add_argument("version", nargs="?", help="version id (default: latest)")
    parser.add_argument(
        "--version",
        dest="version_option",
        metavar="VERSION",
        help="version id, beside --model (default: latest)",
    )


_PUBLISH_MODEL_HELP = (
    "the model the model dir must hold (its manifest's name); with a stack, a warning says "
    "when no function of the deployment serves it"
)


def _s3() -> Any:
    import boto3

    return boto3.client("s3")


def _package(args: argparse.Namespace) -> dict[str, Any]:
    from modelship.packaging import package_file

    columns = None
    if args.columns is not None:
        columns = json.loads(args.columns.read_text())
        if not isinstance(columns, dict):
            raise CommandFailed(f"{args.columns}: expected a JSON object of column overrides")
    manifest = package_file(
        args.model,
        args.sample,
        out=args.out,
        name=args.name,
        target=args.target,
        version=args.version,
        code=args.code,
        columns=columns,
        artifact_format=args.artifact_format,
        trusted_types=args.trusted_types,
        description=description_of(args),
    )
    # The manifest as `models show` prints it, and where it was written.
    document = json.loads(manifest.model_dump_json(exclude={"profile"}))
    return {
        "text": _packaged_summary(manifest, args.out),
        "json": {**document, "out": str(args.out)},
    }


def _packaged_summary(manifest: Any, out: Path) -> str:
    task = manifest.task
    if manifest.classes:
        task += f" ({', '.join(map(str, manifest.classes))})"
    features = ", ".join(f"{f.name}:{f.kind}" for f in manifest.features)
    lines = [
        f"packaged {manifest.name} version {manifest.version} into {out}",
        f"task      {task}",
        f"algorithm {manifest.estimator.algorithm}",
        *([f"labels    {manifest.labels}"] if manifest.task == "classification" else []),
        f"input     {manifest.input_format}: {features}",
        f"artifact  {manifest.artifact.file}  sha256 {manifest.artifact.sha256[:12]}...",
    ]
    if manifest.code:
        lines.append(f"code      {', '.join(manifest.code.modules)}")
    if manifest.metrics:
        lines.append(
            f"metrics   {json.dumps({k: round(v, 4) for k, v in manifest.metrics.items()})}"
        )
    lines.append(f"next      modelship models publish {out}")
    return "\n".join(lines)


def _publish(args: argparse.Namespace) -> dict[str, Any]:
    from modelship.registry.manifest import read_manifest_dir
    from modelship.registry.registry import Registry, version_prefix

    # $MODELSHIP_MODEL does not apply: the model dir names its model, and an exported
    # variable must not refuse publishing another one.
    wanted = named_model(args, environment=False)
    name = read_manifest_dir(args.model_dir).name
    if wanted and name != wanted:
        raise UsageError(
            f"{args.model_dir} holds model {name!r} (its manifest's name), not --model {wanted!r}"
        )
    directory = stack_directory(args)
    bucket = required_bucket(registry_bucket(args, directory))
    if directory is not None and name not in directory.model_names():
        # Published first, deployed after is the way a model joins a deployment: warn only.
        print(
            f"warning: stack {directory.stack_name} deploys no model {name!r} (its models: "
            f"{', '.join(directory.model_names())}): no function of it serves this model",
            file=sys.stderr,
        )
    manifest = Registry(_s3(), bucket).publish(args.model_dir)
    location = f"s3://{bucket}/{version_prefix(manifest.name, manifest.version)}"
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

    # $MODELSHIP_MODEL does not apply: without a name, `list` lists the model names.
    name = named_model(args, ("NAME", args.name), environment=False)
    bucket = required_bucket(registry_bucket(args, stack_directory(args)))
    registry = Registry(_s3(), bucket)
    if not name:
        names = registry.list_models()
        return {"text": "\n".join(names) or "(no models)", "json": {"models": names}}
    entries = registry.list_versions(name)
    if not entries:
        known = registry.list_models()
        raise ModelNotFound(
            f"no model named {name} in s3://{bucket} (models: {', '.join(known) or 'none'})"
        )
    rows = [{"version": e.version, "published_at": e.published_at.isoformat()} for e in entries]
    lines = [f"{r['version']:<40} {r['published_at']}" for r in rows]
    return {
        "text": "\n".join([f"{'VERSION':<40} PUBLISHED", *lines]),
        "json": {"name": name, "versions": rows},
    }


def _addressed_version(args: argparse.Namespace) -> tuple[Any, Any]:
    """(registry, manifest) of the version `models show|card` address: NAME or --model (or
    $MODELSHIP_MODEL), VERSION or --version (default latest), in the bucket of --bucket or
    the stack."""
    from modelship.registry.registry import Registry

    if args.model and args.name and args.name != args.model and args.version is None:
        raise UsageError(
            f"NAME {args.name!r} and --model {args.model!r} name different models (for a "
            f"version of {args.model}, give --version {args.name})"
        )
    name = named_model(args, ("NAME", args.name))
    if not name:
        raise UsageError(
            f"models {args.models_command} needs a model: NAME, --model or ${ENV_MODEL}"
        )
    if args.version and args.version_option and args.version != args.version_option:
        raise UsageError(
            f"VERSION {args.version!r} and --version {args.version_option!r} differ: give one"
        )
    version = args.version or args.version_option or "latest"
    bucket = required_bucket(registry_bucket(args, stack_directory(args)))
    registry = Registry(_s3(), bucket)
    return registry, registry.show(name, version)


def _show(args: argparse.Namespace) -> dict[str, Any]:
    _, manifest = _addressed_version(args)
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


def _card(args: argparse.Namespace) -> dict[str, Any]:
    from modelship.registry.card import ModelCard

    if args.open and args.out is not None:
        raise UsageError("models card: --open writes a temp file; give --open or --out, not both")
    registry, manifest = _addressed_version(args)
    html = args.html or args.open
    text = registry.stored_card(manifest.name, manifest.version, html=html)
    stored = text is not None
    if text is None:
        card = ModelCard(
            manifest,
            notice=(
                f"No card is stored for {manifest.name} {manifest.version} (it was published "
                "before model cards were written): this one is rendered now from its manifest."
            ),
        )
        text = card.html() if html else card.markdown()
    document = {
        "name": manifest.name,
        "version": manifest.version,
        "format": "html" if html else "markdown",
        "stored": stored,
    }
    if args.open:
        import tempfile
        import webbrowser

        with tempfile.NamedTemporaryFile(
            "w", suffix=".html", prefix=f"{manifest.name}-{manifest.version}-card-", delete=False
        ) as handle:
            handle.write(text)
        path = Path(handle.name)
        opened = webbrowser.open(path.as_uri())
        said = "opened" if opened else "no browser to open; wrote"
        return {"text": f"{said} {path}", "json": {**document, "path": str(path)}}
    if args.out is not None:
        args.out.write_text(text, encoding="utf-8")
        return {
            "text": f"wrote the {document['format']} card of {manifest.name} "
            f"{manifest.version} to {args.out}",
            "json": {**document, "path": str(args.out)},
        }
    return {"text": text.rstrip("\n"), "json": {**document, "card": text}}
