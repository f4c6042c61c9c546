"""OpenAPI: the custom authentication schemes and the error responses every tenant operation can answer.

The API URLconf imports this module so the extensions register before the schema is generated.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import serializers


class ErrorSerializer(serializers.Serializer):
    """``{"error": code, "detail": ...}`` (DESIGN.md §6)."""

    error = serializers.CharField(help_text="invalid, not_authenticated, forbidden, not_found, conflict, too_large, …")
    detail = serializers.JSONField(help_text="A message, or an object of messages keyed by field.")


ERROR_RESPONSE = ErrorSerializer

_ERROR_REF = {"$ref": "#/components/schemas/Error"}
_COMMON_ERRORS = {
    "401": "No token, or an unknown or revoked one.",
    "403": "The token belongs to another tenant or lacks the scope.",
    "404": "The tenant's service, model, version or token does not exist.",
}
_INPUT_ERROR = {"400": "Invalid input; `detail` says which field and why."}


def error_responses_hook(result: dict[str, Any], generator: Any, request: Any, public: bool) -> dict[str, Any]:
    """Add the error shape to every tenant operation, so clients (and schemathesis) know every answer."""
    components = result.setdefault("components", {}).setdefault("schemas", {})
    components.setdefault(
        "Error",
        {
            "type": "object",
            "properties": {
                "error": {"type": "string"},
                "detail": {"description": "A message, or an object of messages keyed by field."},
            },
            "required": ["error", "detail"],
        },
    )
    for path, operations in result.get("paths", {}).items():
        if not path.startswith(("/api/v1/tenants/", "/api/v1/internal/")):
            continue
        for method, operation in operations.items():
            if method not in {"get", "post", "put", "patch", "delete"}:
                continue
            responses = operation.setdefault("responses", {})
            expected = dict(_COMMON_ERRORS)
            if "requestBody" in operation or any(p.get("in") == "query" for p in operation.get("parameters", [])):
                expected.update(_INPUT_ERROR)
            for code, description in expected.items():
                responses.setdefault(
                    code, {"description": description, "content": {"application/json": {"schema": _ERROR_REF}}}
                )
    return result


class BearerTokenScheme(OpenApiAuthenticationExtension):
    target_class = "controlplane.tenancy.authentication.BearerTokenAuthentication"
    name = "tenantToken"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "A tenant API token: rdv_<prefix>_<secret>.",
        }


class RunnerPoolTokenScheme(OpenApiAuthenticationExtension):
    target_class = "controlplane.registry.apis.RunnerPoolAuthentication"
    name = "runnerPoolToken"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "A runner pool's token, rdvpool.<pool>.<mac> (`manage.py rdv_runner_token --pool P`).",
        }


_PREDICT_RESULT = {
    "type": "object",
    "properties": {
        "request_id": {"type": "string"},
        "status": {"type": "string", "enum": ["ok", "timeout", "error"]},
        "output": {"type": ["object", "null"], "description": "`{label, probabilities?}` or `{value}`"},
        "model": {"type": ["string", "null"]},
        "version": {"type": ["integer", "null"]},
        "reason": {"type": "string", "description": "champion, fallback, demoted, deadline, timeout"},
        "latency_ms": {"type": "number"},
    },
    "required": ["request_id", "status", "output", "model", "version", "reason", "latency_ms"],
}


def predict_path_hook(result: dict[str, Any], generator: Any, request: Any, public: bool) -> dict[str, Any]:
    """Document the predict endpoint: it is served by the gateway's ASGI fast path, not by DRF."""
    parameters = [
        {"name": name, "in": "path", "required": True, "schema": {"type": "string", "pattern": "^[a-z0-9][a-z0-9-]*$"}}
        for name in ("tenant", "service")
    ]
    result.setdefault("paths", {})["/api/v1/tenants/{tenant}/services/{service}/predict"] = {
        "post": {
            "operationId": "predict",
            "summary": "One prediction: every live model scores it, the rendezvous answers within the deadline.",
            "tags": ["predict"],
            "parameters": parameters,
            "security": [{"tenantToken": []}],
            "requestBody": {
                "required": True,
                "content": {
                    "application/json": {
                        "schema": {
                            "type": "object",
                            "properties": {
                                "inputs": {"type": "object", "description": "Validated against the service's schema."},
                                "user_key": {"type": ["string", "null"], "description": "Keeps a user in one arm."},
                            },
                            "required": ["inputs"],
                            "additionalProperties": False,
                        }
                    }
                },
            },
            "responses": {
                "200": {"description": "Answered.", "content": {"application/json": {"schema": _PREDICT_RESULT}}},
                "504": {
                    "description": "Nothing answered by the deadline (`status: timeout`).",
                    "content": {"application/json": {"schema": _PREDICT_RESULT}},
                },
                "413": {"description": "Body too large.", "content": {"application/json": {"schema": _ERROR_REF}}},
                "429": {
                    "description": "Over the tenant's prediction rate or in-flight quota (`rate_limited`).",
                    "headers": {"Retry-After": {"description": "Seconds to wait.", "schema": {"type": "integer"}}},
                    "content": {"application/json": {"schema": _ERROR_REF}},
                },
                "409": {
                    "description": "The service's input schema is outside the safe subset; change it.",
                    "content": {"application/json": {"schema": _ERROR_REF}},
                },
                "503": {
                    "description": "The requests stream is unavailable.",
                    "content": {"application/json": {"schema": _ERROR_REF}},
                },
            },
        }
    }
    return result
