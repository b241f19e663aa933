"""The predict function as Lambda holds it: its published versions and the `live` alias.

The alias is the only routing state: its FunctionVersion is the stable release and its one
AdditionalVersionWeights entry is the candidate. Every write carries the RevisionId of what
was read, so two operators cannot interleave; Lambda answers PreconditionFailed to the
slower one, raised here as ReleaseConflict.
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError, WaiterError

from modelship import names
from modelship.errors import ReleaseConflict, ReleaseError, ReleaseNotFound
from modelship.registry.manifest import Manifest
from modelship.releases.models import AliasState, ReleaseInfo

_CONFLICT_CODES = {"PreconditionFailedException", "ResourceConflictException"}


def is_conflict(exc: ClientError) -> bool:
    return exc.response.get("Error", {}).get("Code") in _CONFLICT_CODES


class FunctionAlias:
    """Reads and writes one function's versions and alias. The client is passed in."""

    def __init__(self, lambda_client: Any, function_name: str, alias: str) -> None:
        self.lambda_ = lambda_client
        self.function_name = function_name
        self.alias = alias

    def state(self) -> AliasState:
        alias = self.lambda_.get_alias(FunctionName=self.function_name, Name=self.alias)
        routing = alias.get("RoutingConfig") or {}
        weights = {
            str(k): float(v) for k, v in (routing.get("AdditionalVersionWeights") or {}).items()
        }
        return AliasState(str(alias["FunctionVersion"]), weights, alias.get("RevisionId"))

    def version_info(self, version: str) -> ReleaseInfo:
        """Any published version, whether it pins a model or not."""
        try:
            config = self.lambda_.get_function_configuration(
                FunctionName=self.function_name, Qualifier=version
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "ResourceNotFoundException":
                raise ReleaseNotFound(f"{self.function_name} has no version {version}") from None
            raise
        env = (config.get("Environment") or {}).get("Variables") or {}
        return ReleaseInfo(
            version=str(config.get("Version", version)),
            model_name=env.get(names.ENV_MODEL_NAME, ""),
            model_version=env.get(names.ENV_MODEL_VERSION, ""),
            model_sha256=env.get(names.ENV_MODEL_SHA256, ""),
            description=config.get("Description", ""),
        )

    def configuration(self) -> dict[str, Any]:
        """$LATEST's configuration: what the next published version will carry."""
        return dict(self.lambda_.get_function_configuration(FunctionName=self.function_name))

    def publish_model(self, config: dict[str, Any], manifest: Manifest) -> ReleaseInfo:
        """Pins `manifest`'s model in $LATEST's environment (over the `config` read before)
        and publishes it as a new version, once Active."""
        function = self.function_name
        env: dict[str, str] = dict((config.get("Environment") or {}).get("Variables") or {})
        env.update(
            {
                names.ENV_MODEL_NAME: manifest.name,
                names.ENV_MODEL_VERSION: manifest.version,
                names.ENV_MODEL_SHA256: manifest.artifact.sha256,
            }
        )
        description = (
            f"{names.RELEASE_DESCRIPTION_PREFIX} {manifest.name} {manifest.version} "
            f"sha256:{manifest.artifact.sha256[:12]}"
        )
        try:
            update_args: dict[str, Any] = {
                "FunctionName": function,
                "Environment": {"Variables": env},
            }
            if config.get("RevisionId"):
                update_args["RevisionId"] = config["RevisionId"]
            self.lambda_.update_function_configuration(**update_args)
            self._wait_updated()
            updated = self.lambda_.get_function_configuration(FunctionName=function)
            publish_args: dict[str, Any] = {"FunctionName": function, "Description": description}
            if updated.get("RevisionId"):
                publish_args["RevisionId"] = updated["RevisionId"]
            published = self.lambda_.publish_version(**publish_args)
            self._wait_active(str(published["Version"]))
        except ClientError as exc:
            if is_conflict(exc):
                raise ReleaseConflict(
                    f"{function} was changed by someone else while releasing "
                    f"{manifest.name} {manifest.version}; check `modelship status` and retry"
                ) from None
            raise
        info = self.version_info(str(published["Version"]))
        if (info.model_version, info.model_sha256) != (manifest.version, manifest.artifact.sha256):
            raise ReleaseConflict(
                f"version {info.version} of {function} does not pin {manifest.version}: the "
                "configuration changed between update and publish; retry"
            )
        return info

    def route(self, state: AliasState, version: str, weights: dict[str, float]) -> AliasState:
        """Points the alias at `version` with `weights`, if it is still as `state` read it."""
        args: dict[str, Any] = {
            "FunctionName": self.function_name,
            "Name": self.alias,
            "FunctionVersion": version,
            "RoutingConfig": {"AdditionalVersionWeights": weights},
        }
        if state.revision_id:
            args["RevisionId"] = state.revision_id
        try:
            response = self.lambda_.update_alias(**args)
        except ClientError as exc:
            if is_conflict(exc):
                raise ReleaseConflict(
                    f"alias {self.alias} of {self.function_name} was changed by "
                    "someone else since it was read; check `modelship status` and retry"
                ) from None
            raise
        routing = response.get("RoutingConfig") or {}
        return AliasState(
            str(response.get("FunctionVersion", version)),
            {str(k): float(v) for k, v in (routing.get("AdditionalVersionWeights") or {}).items()},
            response.get("RevisionId"),
        )

    def _wait_updated(self) -> None:
        waiter = self.lambda_.get_waiter("function_updated_v2")
        try:
            waiter.wait(
                FunctionName=self.function_name,
                WaiterConfig={"Delay": 2, "MaxAttempts": 150},
            )
        except WaiterError as exc:
            raise ReleaseError(
                f"{self.function_name} configuration update did not succeed: {exc}"
            ) from None

    def _wait_active(self, version: str) -> None:
        """With SnapStart a new version stays Pending while Lambda takes its snapshot, and
        routing traffic to it fails (SnapStartNotReadyException): wait for Active. The
        waiter calls GetFunctionConfiguration with the version as qualifier."""
        waiter = self.lambda_.get_waiter("published_version_active")
        try:
            waiter.wait(
                FunctionName=self.function_name,
                Qualifier=version,
                WaiterConfig={"Delay": 2, "MaxAttempts": 300},
            )
        except WaiterError as exc:
            raise ReleaseError(
                f"{self.function_name} version {version} did not become Active: {exc}"
            ) from None
