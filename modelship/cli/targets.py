"""Which deployed model a command addresses: its function, alias, bucket and state machines.

One resolution for every command (`resolve_target`): an explicit `--function` wins; else,
with a stack (`--stack`, $MODELSHIP_STACK), the model its directory lists under `--model`
($MODELSHIP_MODEL), or its only model; else $MODELSHIP_FUNCTION, as before deployments
listed their models. With a stack, what the command line does not give comes from the
model's directory entry, never from the environment: the environment `local up` prints names
the default model's function and state machines, which must not leak onto another model.

Registering the options is standard library only; resolving imports boto3."""

from __future__ import annotations

import argparse
import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from modelship import names
from modelship.cli.arguments import ENV_RETRAIN_STATE_MACHINE
from modelship.errors import CommandFailed, UsageError

if TYPE_CHECKING:
    from modelship.releases.directory import DeployedModel, ModelDirectory

ENV_STACK = "MODELSHIP_STACK"
ENV_MODEL = "MODELSHIP_MODEL"
ENV_FUNCTION = "MODELSHIP_FUNCTION"
ENV_ALIAS = "MODELSHIP_ALIAS"
ENV_BUCKETS = ("MODELSHIP_BUCKET", "MODEL_BUCKET")
ENV_RELEASE_STATE_MACHINE = "MODELSHIP_RELEASE_STATE_MACHINE"

MODEL_HELP = (
    f"model of the deployment: its function, alias, bucket and state machines come from the "
    f"stack's model directory (default: ${ENV_MODEL}; the stack's only model if it has one)"
)


def deployment_options(model_help: str = MODEL_HELP) -> argparse.ArgumentParser:
    """`--stack` and `--model`, as a parent parser. Their defaults are read when the target
    is resolved, so an explicit value can be told from the environment's."""
    options = argparse.ArgumentParser(add_help=False)
    options.add_argument(
        "--stack",
        help=f"the deployment (stack name) whose models --model picks from (default: ${ENV_STACK})",
    )
    options.add_argument("--model", help=model_help)
    return options


def function_options(model_help: str = MODEL_HELP) -> argparse.ArgumentParser:
    """`--stack`, `--model`, `--function`, `--alias` and `--bucket`, as a parent parser."""
    options = argparse.ArgumentParser(add_help=False, parents=[deployment_options(model_help)])
    options.add_argument(
        "--function",
        help=f"predict function name; wins over --stack (default: ${ENV_FUNCTION} when no "
        "stack is given)",
    )
    options.add_argument(
        "--alias",
        help=f"alias that takes the traffic (default: the model's; without a stack "
        f"${ENV_ALIAS} or {names.DEFAULT_ALIAS_NAME})",
    )
    options.add_argument(
        "--bucket",
        help=f"model bucket (default: the model's; without a stack ${ENV_BUCKETS[0]})",
    )
    return options


def release_state_machine_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--state-machine",
        dest="state_machine",
        help=f"release state machine ARN (default: the model's; without a stack "
        f"${ENV_RELEASE_STATE_MACHINE})",
    )


def retrain_state_machine_option(parser: argparse.ArgumentParser, flag: str) -> None:
    parser.add_argument(
        flag,
        dest="retrain_state_machine",
        help=f"retraining state machine ARN (default: the model's; without a stack "
        f"${ENV_RETRAIN_STATE_MACHINE})",
    )


@dataclass(frozen=True)
class Target:
    """What a command acts on. `model` is the directory entry when a stack chose it."""

    function: str | None
    alias: str
    bucket: str | None
    release_state_machine: str | None
    retrain_state_machine: str | None
    stack: str | None = None
    model: DeployedModel | None = None

    def function_name(self) -> str:
        if not self.function:
            raise UsageError(
                f"--function is required (or set {ENV_FUNCTION}), or --stack (or "
                f"{ENV_STACK}) to address a deployed model"
            )
        return self.function

    def bucket_name(self) -> str:
        if not self.bucket:
            raise UsageError(f"--bucket is required (or set {ENV_BUCKETS[0]})")
        return self.bucket

    def release_machine(self) -> str:
        if self.release_state_machine:
            return self.release_state_machine
        if self.model is not None:
            raise CommandFailed(
                f"model {self.model.model} of stack {self.stack} lists no release state "
                "machine; pass --state-machine"
            )
        raise CommandFailed(f"--state-machine is required (or set {ENV_RELEASE_STATE_MACHINE})")

    def retrain_machine(self) -> str:
        if self.retrain_state_machine:
            return self.retrain_state_machine
        if self.model is not None:
            raise CommandFailed(
                f"model {self.model.model} of stack {self.stack} has no retraining pipeline "
                "(retraining is off for it)"
            )
        raise CommandFailed(f"--state-machine is required (or set {ENV_RETRAIN_STATE_MACHINE})")


def requested(args: argparse.Namespace) -> tuple[str | None, str | None]:
    """(stack, model) as the command line or, failing that, the environment gives them."""
    stack = _given(args, "stack") or os.environ.get(ENV_STACK) or None
    model = _given(args, "model") or os.environ.get(ENV_MODEL) or None
    return stack, model


def resolve_target(args: argparse.Namespace) -> Target:
    """The function, alias, bucket and state machines `args` address (see the module)."""
    stack, model_name = requested(args)
    if _given(args, "function") or not stack:
        if _given(args, "model") and not stack and not _given(args, "model_names_release"):
            raise UsageError(
                f"--model picks a model of a deployment: give --stack (or set {ENV_STACK}), "
                "or address the function with --function"
            )
        return Target(
            function=_given(args, "function") or os.environ.get(ENV_FUNCTION) or None,
            alias=_given(args, "alias") or os.environ.get(ENV_ALIAS) or names.DEFAULT_ALIAS_NAME,
            bucket=_given(args, "bucket") or _first_env(ENV_BUCKETS),
            release_state_machine=_given(args, "state_machine")
            or os.environ.get(ENV_RELEASE_STATE_MACHINE)
            or None,
            retrain_state_machine=_given(args, "retrain_state_machine")
            or os.environ.get(ENV_RETRAIN_STATE_MACHINE)
            or None,
        )
    return target_of(stack, chosen_model(model_directory(stack), model_name), args)


def model_directory(stack: str) -> ModelDirectory:
    import boto3

    from modelship.releases.directory import ModelDirectory

    return ModelDirectory(boto3.client("ssm"), stack)


def chosen_model(directory: ModelDirectory, model_name: str | None) -> DeployedModel:
    """`model_name`'s entry; with none, the only model, else a refusal naming them all."""
    if model_name:
        return directory.get(model_name)
    models = directory.models()
    if len(models) == 1:
        return models[0]
    raise UsageError(
        f"stack {directory.stack_name} deploys {len(models)} models "
        f"({', '.join(directory.model_names())}): pick one with --model (or set {ENV_MODEL})",
        reason="model_required",
    )


def target_of(stack: str, model: DeployedModel, args: argparse.Namespace) -> Target:
    """A model's entry, with what the command line gives explicitly on top."""
    return Target(
        function=model.function,
        alias=_given(args, "alias") or model.alias,
        bucket=_given(args, "bucket") or model.bucket,
        release_state_machine=_given(args, "state_machine") or model.release_state_machine or None,
        retrain_state_machine=_given(args, "retrain_state_machine")
        or model.retrain_state_machine
        or None,
        stack=stack,
        model=model,
    )


def releases_of(target: Target, clients: dict[str, Any] | None = None) -> Any:
    """The release actions on the target's function and alias; `clients` (by service name)
    lets several targets share boto3 clients."""
    import boto3

    from modelship.releases.models import ReleaseTarget
    from modelship.releases.releases import Releases

    made = clients if clients is not None else {}
    for service in ("lambda", "s3", "cloudwatch", "sts"):
        if service not in made:
            made[service] = boto3.client(service)
    return Releases(
        ReleaseTarget(target.function_name(), target.alias, target.bucket_name()),
        lambda_client=made["lambda"],
        s3=made["s3"],
        cloudwatch=made["cloudwatch"],
        sts=made["sts"],
    )


def _given(args: argparse.Namespace, name: str) -> Any:
    return getattr(args, name, None)


def _first_env(keys: tuple[str, ...]) -> str | None:
    return next((os.environ[key] for key in keys if os.environ.get(key)), None)
