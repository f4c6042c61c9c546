"""The internal endpoints runners fetch artifacts through (DESIGN.md §6, *Artifact access*).

1. ``POST …/internal/tenants/T/models/M/versions/V/artifact-url`` with the runner's pool token
   (``DeploymentSpec.artifact_url`` points here) → a signed URL, granted only to a pool the version
   is deployed to.
2. ``GET …/internal/artifacts/<sha256>?…&signature=`` → the bytes; the signature is the only credential.

Tenant API tokens are not accepted by either: a tenant never downloads artifacts through these paths.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from django.conf import settings
from django.http import FileResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import exceptions, serializers
from rest_framework.authentication import BaseAuthentication
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from contracts.pool_tokens import pool_token_verify
from controlplane.registry.access import artifact_for_signed_url, artifact_grant
from controlplane.registry.signing import ArtifactClaim
from controlplane.tenancy.authentication import bearer_secret


@dataclass(frozen=True)
class RunnerPool:
    """``request.user`` for a runner: it is known by its pool only."""

    pool: str
    is_authenticated: bool = True
    is_anonymous: bool = False


class RunnerPoolAuthentication(BaseAuthentication):
    """``Bearer rdvpool.<pool>.<mac>``: the pool token ``manage.py rdv_runner_token --pool P`` prints."""

    def authenticate(self, request: Request) -> tuple[RunnerPool, None] | None:
        secret = bearer_secret(request)
        if secret is None:
            return None
        pool = pool_token_verify(secret=settings.RDV_RUNNER_SECRET, token=secret)
        if pool is None:
            raise exceptions.AuthenticationFailed("Not a runner pool token.")
        return RunnerPool(pool), None

    def authenticate_header(self, request: Request) -> str:
        return 'Bearer realm="runners"'


class ArtifactGrantSerializer(serializers.Serializer):
    url = serializers.CharField(help_text="The signed download URL; it needs no other credential.")
    expires_at = serializers.IntegerField(help_text="When the URL stops working (Unix seconds).")


class ArtifactGrantApi(APIView):
    authentication_classes = [RunnerPoolAuthentication]
    permission_classes = [IsAuthenticated]

    @extend_schema(request=None, responses={200: ArtifactGrantSerializer}, tags=["internal"])
    def post(self, request: Request, tenant: str, model: str, version: int) -> Response:
        grant = artifact_grant(tenant=tenant, model=model, version=version, pool=request.user.pool, now=time.time())
        return Response(ArtifactGrantSerializer({"url": grant.url, "expires_at": grant.expires}).data)


class SignedArtifactQuery(serializers.Serializer):
    tenant = serializers.SlugField(max_length=63)
    model = serializers.SlugField(max_length=63)
    version = serializers.IntegerField(min_value=1, max_value=2**31 - 1)
    pool = serializers.SlugField(max_length=63)
    expires = serializers.IntegerField(min_value=0)
    signature = serializers.RegexField(r"^[0-9a-f]{64}$")


class ArtifactDownloadApi(APIView):
    authentication_classes: list[type[BaseAuthentication]] = []
    permission_classes = [AllowAny]

    @extend_schema(
        parameters=[SignedArtifactQuery],
        responses={(200, "application/octet-stream"): OpenApiTypes.BINARY},
        tags=["internal"],
        auth=[],
        description="The URL a grant answered; expired or altered → 403.",
    )
    def get(self, request: Request, sha256: str) -> FileResponse:
        query = SignedArtifactQuery(data=request.query_params)
        query.is_valid(raise_exception=True)
        fields = query.validated_data
        claim = ArtifactClaim(
            tenant=fields["tenant"],
            model=fields["model"],
            version=fields["version"],
            sha256=sha256.lower(),
            pool=fields["pool"],
            expires=fields["expires"],
        )
        version = artifact_for_signed_url(claim=claim, signature=fields["signature"], now=time.time())
        response = FileResponse(
            version.artifact.open("rb"),
            as_attachment=True,
            filename=f"{version.sha256}.{version.format}",
            content_type="application/octet-stream",
        )
        response["ETag"] = f'"{version.sha256}"'
        # The URL expires within a minute: nothing downstream may keep serving it (runners cache by hash).
        response["Cache-Control"] = "private, no-store"
        return response

