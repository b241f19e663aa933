"""A model's running shadow: the object shadows/<model>/active.json (names.shadow_state_key).

`modelship shadow start` writes it once (IfNoneMatch='*'), `shadow stop` deletes it; while it
exists the serving versions mirror a sample of their predict requests to the Lambda version
it names (modelship.serving.shadow_mirror). Serving only reads it.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from modelship import names

logger = logging.getLogger(__name__)

# S3 answers a GetObject of a missing key 404 (NoSuchKey) to a caller allowed s3:ListBucket
# on it and 403 (AccessDenied) to any other (S3 API reference, GetObject, Permissions). The
# predict role may read this one key and list nothing outside its model prefix, so on AWS
# "no shadow" arrives as 403.
_ABSENT_CODES = frozenset({"NoSuchKey", "404", "NotFound", "AccessDenied", "403"})


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
    (throttling, an unreadable object), so a caller can keep what it knew."""
    from botocore.exceptions import ClientError

    try:
        answer = s3.get_object(Bucket=bucket, Key=names.shadow_state_key(model_name))
    except ClientError as exc:
        if str(exc.response.get("Error", {}).get("Code", "")) in _ABSENT_CODES:
            return None
        raise
    state = ShadowState.parse(answer["Body"].read())
    if state.model != model_name:
        raise ValueError(
            f"{names.shadow_state_key(model_name)} names model {state.model}, not {model_name}"
        )
    return state
