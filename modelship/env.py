"""The one settings loader of the Lambda functions: their environment, validated at cold start.

A function's settings are a pydantic model built on `EnvSettings` whose fields carry the
environment variable as `validation_alias` (names from `modelship.names`) and whose config
`title` names the function (for the error). `load(SettingsModel)` reads only
those variables, treats an empty one as unset (so its default applies), and turns every
problem into one ConfigurationError that names each missing or bad variable.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from typing import Any, TypeVar

from pydantic import BaseModel, BeforeValidator, ConfigDict, SecretStr, ValidationError

from modelship.errors import ConfigurationError

_MAX_SHOWN_CHARS = 80


class EnvSettings(BaseModel):
    """Base of a function's settings. Fields are read by their variable (validation_alias)
    only, never by their Python name."""

    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        protected_namespaces=(),
        validate_by_alias=True,
        validate_by_name=False,
    )


SettingsT = TypeVar("SettingsT", bound=EnvSettings)


def decode_json(value: Any) -> Any:
    if not isinstance(value, str):
        return value  # already decoded (run options, or a model's own dump)
    try:
        return json.loads(value)
    except ValueError as exc:
        raise ValueError(f"must be JSON ({exc})") from None


# A variable holding JSON, e.g. `Annotated[GateConfig, FromJson]`.
FromJson = BeforeValidator(decode_json)


def variables(model: type[EnvSettings]) -> dict[str, str]:
    """Environment variable -> field name, for the fields read from the environment."""
    return {
        field.validation_alias: name
        for name, field in model.model_fields.items()
        if isinstance(field.validation_alias, str)
    }


def load(model: type[SettingsT], environ: Mapping[str, str] | None = None) -> SettingsT:
    """`model` validated from `environ` (default: the process environment). The error is
    titled by the model's config `title`, e.g. "invalid predict function configuration"."""
    env = os.environ if environ is None else environ
    what = model.model_config.get("title") or model.__name__
    raw = {var: env[var] for var in variables(model) if env.get(var, "") != ""}
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        problems = [_problem(model, error) for error in exc.errors(include_url=False)]
        raise ConfigurationError(f"invalid {what} configuration: " + "; ".join(problems)) from None


def _problem(model: type[EnvSettings], error: Any) -> str:
    """One error as `VARIABLE is missing` or `VARIABLE[.path]: message, got 'value'`."""
    first, *path = error["loc"] or ("",)  # a model-level error has no location
    variable = str(first)
    if error["type"] == "missing" and not path:
        return f"{variable} is missing"
    where = variable + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in path)
    # A validator's own ValueError (e.g. the plan module's) is shown without pydantic's
    # "Value error, " prefix, and without naming the variable twice.
    cause = (error.get("ctx") or {}).get("error")
    text = str(cause) if error["type"] == "value_error" and cause is not None else error["msg"]
    message = text if text.startswith(variable) else f"{where}: {text}"
    field = model.model_fields.get(variables(model).get(variable, ""))
    if field is not None and field.annotation not in (SecretStr, SecretStr | None):
        shown = repr(error["input"])
        if len(shown) > _MAX_SHOWN_CHARS:
            shown = shown[: _MAX_SHOWN_CHARS - 3] + "..."
        message += f", got {shown}"
    return message
