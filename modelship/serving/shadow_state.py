"""A model's running shadow: the object shadows/<model>/active.json (names.shadow_state_key).

`modelship shadow start` writes it once (IfNoneMatch='*'), `shadow stop` deletes it; while it
exists the serving versions mirror a sample of their predict requests to the Lambda version
it names (modelship.serving.shadow_mirror). Serving only reads it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from modelship import names
from modelship.registry.registry import object_exists


class ShadowState(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    format_version: Literal[1] = 1
    model: str = Field(pattern=rf"^{names.MODEL_NAME_PATTERN}$")
    # A published version of the predict function (never $LATEST or an alias).
    lambda_version: str = Field(pattern=r"^[0-9]{1,10}$")
    model_version: str = Field(min_length=1, max_length=64)
    sample_rate: float = Field(gt=0.0, le=1.0)
    started_at: datetime
    started_by: str = Field(default="", max_length=2048)

    def body(self) -> bytes:
        """The object's bytes, as `shadow start` writes them."""
        return self.model_dump_json().encode()

    @classmethod
    def parse(cls, raw: bytes | str) -> ShadowState:
        return cls.model_validate_json(raw)


def read_shadow_state(s3: Any, bucket: str, model_name: str) -> ShadowState | None:
    """The model's running shadow, or None when none runs. Raises what else goes wrong
    (throttling, an unreadable object), so a caller can keep what it knew.

    The key is listed before it is read: S3 answers a GetObject of a missing key 404 only to a
    caller allowed s3:ListBucket on it, else 403 (S3 API reference, GetObject), and no shadow
    running is the usual case, not an access problem."""
    from botocore.exceptions import ClientError

    key = names.shadow_state_key(model_name)
    if not object_exists(s3, bucket, key):
        return None
    try:
        answer = s3.get_object(Bucket=bucket, Key=key)
    except ClientError as exc:  # stopped between the listing and the read
        if str(exc.response.get("Error", {}).get("Code", "")) in {"NoSuchKey", "404"}:
            return None
        raise
    state = ShadowState.parse(answer["Body"].read())
    if state.model != model_name:
        raise ValueError(f"{key} names model {state.model}, not {model_name}")
    return state
