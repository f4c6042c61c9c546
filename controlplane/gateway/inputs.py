"""Parsing and validating a predict body: clear, complete errors, never a 500."""

from __future__ import annotations

from itertools import islice
from typing import Any

from controlplane.gateway.errors import GatewayError
from controlplane.jsonlimits import JSONRefused, json_loads_strict
from controlplane.routing.schemas import safe_validator

MAX_BODY_BYTES = 1_000_000
# The most violations one answer lists: a long array of wrong items would otherwise cost the event loop
# one error object per item, and the client a response many times its body.
MAX_REPORTED_ERRORS = 20


def parse_predict_body(body: bytes) -> tuple[dict[str, Any], str | None]:
    """The ``inputs`` object and the optional ``user_key`` of a predict call."""
    if len(body) > MAX_BODY_BYTES:
        raise GatewayError(413, "too_large", f"the body is over {MAX_BODY_BYTES} bytes")
    try:
        payload = json_loads_strict(body)
    except JSONRefused as exc:
        raise GatewayError(400, "invalid_json", str(exc)) from exc
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
    """Every violation of the service's input schema, each with where it is; patterns run on RE2
    (controlplane/routing/schemas.py), so a tenant's pattern cannot stall the event loop."""
    found = islice(safe_validator(schema_json).iter_errors(inputs), MAX_REPORTED_ERRORS)
    errors = sorted(found, key=lambda e: [str(p) for p in e.absolute_path])
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
