"""Parsing and validating a predict body: clear, complete errors, never a 500."""

from __future__ import annotations

import json
from functools import lru_cache
from typing import Any

from jsonschema import Draft202012Validator

from controlplane.gateway.errors import GatewayError

MAX_BODY_BYTES = 1_000_000


@lru_cache(maxsize=4096)
def _validator(schema_json: str) -> Draft202012Validator:
    return Draft202012Validator(json.loads(schema_json))


def parse_predict_body(body: bytes) -> tuple[dict[str, Any], str | None]:
    """The ``inputs`` object and the optional ``user_key`` of a predict call."""
    if len(body) > MAX_BODY_BYTES:
        raise GatewayError(413, "too_large", f"the body is over {MAX_BODY_BYTES} bytes")
    try:
        payload = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise GatewayError(400, "invalid_json", f"the body is not JSON: {exc}") from exc
    if not isinstance(payload, dict):
        raise GatewayError(400, "invalid", {"body": "expected a JSON object with `inputs`"})
    problems: dict[str, str] = {}
    inputs = payload.get("inputs")
    if not isinstance(inputs, dict):
        problems["inputs"] = "required, a JSON object"
    user_key = payload.get("user_key")
    if user_key is not None and not isinstance(user_key, str):
        problems["user_key"] = "a string or null"
    unknown = sorted(set(payload) - {"inputs", "user_key"})
    if unknown:
        problems["body"] = f"unknown fields: {', '.join(unknown)}"
    if problems:
        raise GatewayError(400, "invalid", problems)
    return inputs, user_key  # type: ignore[return-value]


def validate_inputs(inputs: dict[str, Any], schema_json: str) -> None:
    """Every violation of the service's input schema, each with where it is."""
    errors = sorted(_validator(schema_json).iter_errors(inputs), key=lambda e: list(e.absolute_path))
    if errors:
        raise GatewayError(
            400,
            "invalid",
            {
                "inputs": [
                    {"path": "/".join(str(p) for p in e.absolute_path) or "", "message": e.message} for e in errors
                ]
            },
        )
