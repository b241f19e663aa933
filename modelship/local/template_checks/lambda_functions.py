"""Lambda functions, versions, aliases and asynchronous invoke configurations: names,
quotas, environment variables, SnapStart's conditions and the unzipped code size."""

from __future__ import annotations

import json
import re
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from modelship.local.template_checks.context import Context, Rule, number

# Lambda API reference, CreateFunction: a function name is limited to 64 characters.
FUNCTION_NAME = (64, re.compile(r"[a-zA-Z0-9_-]+"))
# Lambda quotas ("Lambda quotas" page and the CreateFunction API reference), for functions
# without a capacity provider: memory 128-10,240 MB, timeout 1-900 s, /tmp 512-10,240 MB,
# 5 layers, 4 KB of environment variables in all, 250 MB unzipped (function and layers),
# description at most 256 characters.
MEMORY_MB = (128, 10_240)
TIMEOUT_S = (1, 900)
EPHEMERAL_MB = (512, 10_240)
LAYERS_MAX = 5
ENVIRONMENT_MAX_BYTES = 4 * 1024
# AccountLimit.CodeSizeUnzipped: 250 MB is 262,144,000 bytes.
UNZIPPED_CODE_MAX_BYTES = 250 * 1024 * 1024
FUNCTION_DESCRIPTION_MAX = 256
ENVIRONMENT_KEY = re.compile(r"[a-zA-Z][a-zA-Z0-9_]+")
# Lambda developer guide, "Defined runtime environment variables": keys Lambda reserves.
RESERVED_ENVIRONMENT_KEYS = frozenset(
    (
        "_HANDLER",
        "_X_AMZN_TRACE_ID",
        "AWS_DEFAULT_REGION",
        "AWS_REGION",
        "AWS_EXECUTION_ENV",
        "AWS_LAMBDA_FUNCTION_NAME",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
        "AWS_LAMBDA_FUNCTION_VERSION",
        "AWS_LAMBDA_INITIALIZATION_TYPE",
        "AWS_LAMBDA_LOG_GROUP_NAME",
        "AWS_LAMBDA_LOG_STREAM_NAME",
        "AWS_ACCESS_KEY",
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_LAMBDA_RUNTIME_API",
        "LAMBDA_TASK_ROOT",
        "LAMBDA_RUNTIME_DIR",
    )
)
# Lambda developer guide, "Improving startup performance with Lambda SnapStart": Java 11+,
# Python 3.12+ and .NET 8+ managed runtimes; no provisioned concurrency, no Amazon EFS, no
# ephemeral storage above 512 MB.
SNAPSTART_RUNTIME = re.compile(r"java(1[1-9]|[2-9]\d)|python3\.(1[2-9]|[2-9]\d)|dotnet([8-9]|\d\d)")
# Lambda API reference, CreateAlias: Name 1-128 of [a-zA-Z0-9-_], not only digits;
# AliasRoutingConfiguration: one additional version, weight 0.0-1.0.
ALIAS_NAME = (128, re.compile(r"(?![0-9]+$)[a-zA-Z0-9_-]+"))
# Lambda API reference, PutFunctionEventInvokeConfig: MaximumRetryAttempts 0-2,
# MaximumEventAgeInSeconds 60-21600.
ASYNC_RETRY_ATTEMPTS = (0, 2)
ASYNC_EVENT_AGE = (60, 21_600)


def _function(ctx: Context, logical: str, props: Mapping[str, Any]) -> None:
    ctx.name(
        "lambda-function-name",
        logical,
        "FunctionName",
        props.get("FunctionName"),
        FUNCTION_NAME,
        "a function name",
    )
    if props.get("CapacityProviderConfig") is None:
        ctx.in_range(
            "lambda-memory",
            logical,
            "MemorySize",
            props.get("MemorySize"),
            MEMORY_MB,
            "memory (MB)",
        )
        ctx.in_range(
            "lambda-timeout",
            logical,
            "Timeout",
            props.get("Timeout"),
            TIMEOUT_S,
            "the timeout (s)",
        )
    ephemeral = (props.get("EphemeralStorage") or {}).get("Size")
    ctx.in_range(
        "lambda-ephemeral-storage",
        logical,
        "EphemeralStorage.Size",
        ephemeral,
        EPHEMERAL_MB,
        "ephemeral storage (MB)",
    )
    ctx.at_most(
        "lambda-description",
        logical,
        "Description",
        props.get("Description"),
        FUNCTION_DESCRIPTION_MAX,
    )
    _snapstart(ctx, logical, props, ephemeral)
    _environment(ctx, logical, props)
    layers = props.get("Layers") or []
    if len(layers) > LAYERS_MAX:
        ctx.refuse("lambda-layers", logical, "Layers", len(layers), f"at most {LAYERS_MAX} layers")
    # Lambda API reference, PutFunctionConcurrency: ReservedConcurrentExecutions at least 0.
    concurrency = props.get("ReservedConcurrentExecutions")
    if concurrency is not None and (number(concurrency) or 0) < 0:
        ctx.refuse(
            "lambda-reserved-concurrency",
            logical,
            "ReservedConcurrentExecutions",
            concurrency,
            "must be 0 or more",
        )
    _unzipped_size(ctx, logical, props)


def _snapstart(ctx: Context, logical: str, props: Mapping[str, Any], ephemeral: Any) -> None:
    if (props.get("SnapStart") or {}).get("ApplyOn") != "PublishedVersions":
        return
    runtime = str(props.get("Runtime", ""))
    if not SNAPSTART_RUNTIME.fullmatch(runtime):
        ctx.refuse(
            "lambda-snapstart",
            logical,
            "Runtime",
            runtime,
            "SnapStart needs a Java 11+, Python 3.12+ or .NET 8+ managed runtime",
        )
    if ephemeral is not None and (number(ephemeral) or 0) > 512:
        ctx.refuse(
            "lambda-snapstart",
            logical,
            "EphemeralStorage.Size",
            ephemeral,
            "SnapStart does not support ephemeral storage above 512 MB",
        )
    if props.get("FileSystemConfigs"):
        ctx.refuse(
            "lambda-snapstart",
            logical,
            "FileSystemConfigs",
            "EFS",
            "SnapStart does not support Amazon EFS",
        )
    for other, resource in ctx.resources.items():
        other_props = resource.get("Properties") or {}
        if (
            resource.get("Type") in {"AWS::Lambda::Version", "AWS::Lambda::Alias"}
            and other_props.get("FunctionName") == {"Ref": logical}
            and other_props.get("ProvisionedConcurrencyConfig")
        ):
            ctx.refuse(
                "lambda-snapstart",
                other,
                "ProvisionedConcurrencyConfig",
                other_props["ProvisionedConcurrencyConfig"],
                f"SnapStart (on {logical}) does not support provisioned concurrency",
            )


def _environment(ctx: Context, logical: str, props: Mapping[str, Any]) -> None:
    variables = (props.get("Environment") or {}).get("Variables") or {}
    for key in variables:
        if key in RESERVED_ENVIRONMENT_KEYS:
            ctx.refuse(
                "lambda-environment-keys",
                logical,
                f"Environment.Variables.{key}",
                key,
                "Lambda reserves this key",
            )
        elif not ENVIRONMENT_KEY.fullmatch(key):
            ctx.refuse(
                "lambda-environment-keys",
                logical,
                f"Environment.Variables.{key}",
                key,
                f"a key must match {ENVIRONMENT_KEY.pattern}",
            )
    # Lambda measures the variables as one JSON object ("String measured: {...}").
    resolved = ctx.worst.value(variables)
    size = len(json.dumps(resolved, separators=(",", ":")).encode())
    if size > ENVIRONMENT_MAX_BYTES:
        ctx.refuse(
            "lambda-environment-size",
            logical,
            "Environment.Variables",
            f"{size} bytes",
            f"at most {ENVIRONMENT_MAX_BYTES} bytes in all (generated names at their longest)",
        )


def _unzipped_size(ctx: Context, logical: str, props: Mapping[str, Any]) -> None:
    if ctx.cdk_out is None:
        return
    parts = [("code", (props.get("Code") or {}).get("S3Key"))]
    for layer in props.get("Layers") or []:
        if isinstance(layer, dict) and "Ref" in layer and layer["Ref"] in ctx.resources:
            content = (ctx.resources[layer["Ref"]].get("Properties") or {}).get("Content")
            parts.append((f"layer {layer['Ref']}", (content or {}).get("S3Key")))
    measured = {what: _asset_bytes(ctx.cdk_out, key) for what, key in parts}
    sizes = {what: size for what, size in measured.items() if size is not None}
    total = sum(sizes.values())
    if total > UNZIPPED_CODE_MAX_BYTES:
        shown = ", ".join(f"{what} {size / 2**20:.1f} MiB" for what, size in sizes.items())
        ctx.refuse(
            "lambda-unzipped-size",
            logical,
            "Code + Layers",
            f"{total} bytes ({shown})",
            f"function and layers unzipped at most {UNZIPPED_CODE_MAX_BYTES} bytes (250 MB)",
        )


def _asset_bytes(cdk_out: Path, key: Any) -> int | None:
    if not isinstance(key, str):
        return None
    stem = key.removesuffix(".zip")
    directory, archive = cdk_out / f"asset.{stem}", cdk_out / f"asset.{stem}.zip"
    if directory.is_dir():
        return sum(p.stat().st_size for p in directory.rglob("*") if p.is_file())
    if archive.is_file():
        with zipfile.ZipFile(archive) as opened:
            return sum(info.file_size for info in opened.infolist())
    return None


def _alias(ctx: Context, logical: str, props: Mapping[str, Any]) -> None:
    ctx.name("lambda-alias", logical, "Name", props.get("Name"), ALIAS_NAME, "an alias name")
    weights = (props.get("RoutingConfig") or {}).get("AdditionalVersionWeights") or []
    if len(weights) > 1:
        ctx.refuse(
            "lambda-alias",
            logical,
            "RoutingConfig.AdditionalVersionWeights",
            len(weights),
            "an alias routes to at most one additional version",
        )
    for weight in weights:
        value = number(weight.get("FunctionWeight"))
        if value is None or not 0.0 <= value <= 1.0:
            ctx.refuse(
                "lambda-alias",
                logical,
                "RoutingConfig.FunctionWeight",
                weight.get("FunctionWeight"),
                "a weight must be 0.0-1.0",
            )


def _version(ctx: Context, logical: str, props: Mapping[str, Any]) -> None:
    ctx.at_most(
        "lambda-description",
        logical,
        "Description",
        props.get("Description"),
        FUNCTION_DESCRIPTION_MAX,
    )


def _event_invoke_config(ctx: Context, logical: str, props: Mapping[str, Any]) -> None:
    ctx.retry_policy(
        "lambda-async-config", logical, "", props, ASYNC_RETRY_ATTEMPTS, ASYNC_EVENT_AGE
    )


RULES: dict[str, Rule] = {
    "AWS::Lambda::Function": _function,
    "AWS::Lambda::Alias": _alias,
    "AWS::Lambda::Version": _version,
    "AWS::Lambda::EventInvokeConfig": _event_invoke_config,
}
