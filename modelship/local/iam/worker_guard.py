"""IAM enforcement inside an emulator worker process (modelship/local/worker.py).

Loaded by file path, never imported as part of `modelship`, and never part of a function's
code asset: it uses the standard library and botocore only, so the function's own copy of
`modelship` stays the one its handler imports. Before every botocore call, it asks the
emulator's authorization endpoint (MODELSHIP_IAM_ENDPOINT) whether the function's role
(MODELSHIP_IAM_ROLE) may make it; a denial raises the ClientError AWS would return.
"""

from __future__ import annotations

import json
import os
import urllib.request
from typing import Any

ENV_ENDPOINT = "MODELSHIP_IAM_ENDPOINT"
ENV_ROLE = "MODELSHIP_IAM_ROLE"
# Payloads are not needed to authorize a call, and can be large or binary.
_PAYLOADS = {"Body", "Payload", "ZipFile", "Record", "Records"}


def _params(api_params: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in api_params.items() if k not in _PAYLOADS}


def install() -> None:
    endpoint = os.environ.get(ENV_ENDPOINT)
    role = os.environ.get(ENV_ROLE)
    if not endpoint or not role:
        return
    from botocore.client import BaseClient
    from botocore.exceptions import ClientError

    session = os.environ.get("AWS_LAMBDA_FUNCTION_NAME", "local")
    original = BaseClient._make_api_call
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))

    def ask(request: dict[str, Any]) -> dict[str, Any]:
        data = json.dumps(request, default=str).encode()
        # The endpoint is the emulator's own loopback http:// URL.
        call = urllib.request.Request(  # noqa: S310
            endpoint, data=data, headers={"Content-Type": "application/json"}
        )
        with opener.open(call, timeout=30) as answer:
            decision: dict[str, Any] = json.loads(answer.read())
        return decision

    def make_api_call(client: Any, operation_name: str, api_params: Any) -> Any:
        request = {
            "role": role,
            "session": session,
            "service": client.meta.service_model.service_name,
            "operation": operation_name,
            "params": _params(dict(api_params)),
        }
        decision = ask(request)
        if not decision.get("allowed"):
            raise ClientError(decision["error"], operation_name)
        try:
            return original(client, operation_name, api_params)
        except ClientError as exc:
            # S3 answers a read of a missing key 404 only to a caller that may list the
            # bucket at that key; the endpoint decides, as for any call.
            code = str(exc.response.get("Error", {}).get("Code", ""))
            read = request["service"] == "s3" and operation_name in {"GetObject", "HeadObject"}
            if read and code in {"NoSuchKey", "404", "NotFound"}:
                missing = ask({**request, "kind": "missing_object"})
                if not missing.get("allowed"):
                    raise ClientError(missing["error"], operation_name) from None
            raise

    BaseClient._make_api_call = make_api_call
