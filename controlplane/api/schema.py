"""OpenAPI descriptions of the custom authentication classes; the API URLconf imports this module."""

from __future__ import annotations

from typing import Any

from drf_spectacular.extensions import OpenApiAuthenticationExtension


class BearerTokenScheme(OpenApiAuthenticationExtension):
    target_class = "controlplane.tenancy.authentication.BearerTokenAuthentication"
    name = "tenantToken"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "A tenant API token: rdv_<prefix>_<secret>.",
        }


class RunnerTokenScheme(OpenApiAuthenticationExtension):
    target_class = "controlplane.registry.apis.RunnerTokenAuthentication"
    name = "runnerToken"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {"type": "http", "scheme": "bearer", "description": "The runners' shared RDV_RUNNER_TOKEN."}
