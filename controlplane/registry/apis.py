"""The internal endpoint runners download artifacts from, by content hash (DeploymentSpec.artifact_url)."""

from __future__ import annotations

import hmac
from dataclasses import dataclass

from django.conf import settings
from django.http import FileResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.views import APIView

from controlplane.registry.selectors import version_for_artifact
from controlplane.tenancy.authentication import bearer_secret


@dataclass(frozen=True)
class RunnerUser:
    is_authenticated: bool = True
    is_anonymous: bool = False


class RunnerTokenAuthentication(BaseAuthentication):
    """Runners share one secret (``RDV_RUNNER_TOKEN``); they are not tenants and hold no API token."""

    def authenticate(self, request: Request) -> tuple[RunnerUser, None] | None:
        secret = bearer_secret(request)
        if secret is None:
            return None
        if not hmac.compare_digest(secret.encode(), settings.RDV_RUNNER_TOKEN.encode()):
            raise exceptions.AuthenticationFailed("Not the runner token.")
        return RunnerUser(), None

    def authenticate_header(self, request: Request) -> str:
        return 'Bearer realm="runners"'


class ArtifactDownloadApi(APIView):
    authentication_classes = [RunnerTokenAuthentication]
    permission_classes = [IsAuthenticated]

    @extend_schema(responses={(200, "application/octet-stream"): OpenApiTypes.BINARY}, tags=["internal"])
    def get(self, request: Request, sha256: str) -> FileResponse:
        version = version_for_artifact(sha256=sha256.lower())
        if version is None:
            raise exceptions.NotFound(f"no artifact with sha256 {sha256}")
        response = FileResponse(
            version.artifact.open("rb"),
            as_attachment=True,
            filename=f"{version.sha256}.{version.format}",
            content_type="application/octet-stream",
        )
        # Content never changes for a hash, so runners and proxies may cache it forever.
        response["ETag"] = f'"{version.sha256}"'
        response["Cache-Control"] = "private, max-age=31536000, immutable"
        return response
