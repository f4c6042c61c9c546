"""Rollout endpoints: list and start, one rollout, and pause / resume / abort."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.db.models import QuerySet
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response

from controlplane.api.schema import ERROR_RESPONSE
from controlplane.api.views import TenantApiView, TenantListApiView
from controlplane.rollouts.models import Rollout
from controlplane.rollouts.selectors import rollout_get, rollouts_list
from controlplane.rollouts.serializers import RolloutInSerializer, RolloutOutSerializer
from controlplane.rollouts.services import rollout_abort, rollout_pause, rollout_resume, rollout_start

_CONFLICT = OpenApiResponse(
    ERROR_RESPONSE,
    "The version is not ready, another rollout is active on the service, or the service has no champion.",
)


@extend_schema(tags=["rollouts"])
class RolloutsApi(TenantListApiView):
    required_scopes = {"GET": "read", "POST": "deploy"}
    serializer_class = RolloutOutSerializer

    def get_queryset(self) -> QuerySet[Rollout]:
        return rollouts_list(service=self.get_service())

    @extend_schema(
        request=RolloutInSerializer,
        responses={201: RolloutOutSerializer, 409: _CONFLICT},
        description=(
            "Start a progressive rollout. Canary: at each step the candidate is a champion with that share of "
            "traffic (sticky per user), the baseline champions share the rest; the last step (100) promotes. "
            "Blue-green: the candidate runs as a challenger (shadow) for `step_seconds`, then is promoted. Each "
            "step is judged by the analysis on live decisions; a breach rolls back to the baseline routing. "
            "Unknown model or version → 400; not `ready` → 409; one active rollout per service (409)."
        ),
    )
    def post(self, request: Request, tenant: str, service: str) -> Response:
        service_row = self.get_service()
        body = RolloutInSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        rollout = rollout_start(service=service_row, actor=self.actor, **body.validated_data)
        return Response(RolloutOutSerializer(rollout).data, status=status.HTTP_201_CREATED)


class RolloutApi(TenantApiView):
    required_scopes = {"GET": "read"}

    @extend_schema(responses=RolloutOutSerializer, tags=["rollouts"])
    def get(self, request: Request, tenant: str, service: str, rollout_id: int) -> Response:
        rollout = rollout_get(service=self.get_service(), rollout_id=rollout_id)
        return Response(RolloutOutSerializer(rollout).data)


class _RolloutActionApi(TenantApiView):
    required_scopes = {"POST": "deploy"}
    action_service: Callable[..., Rollout]

    def post(self, request: Request, tenant: str, service: str, rollout_id: int) -> Response:
        rollout = rollout_get(service=self.get_service(), rollout_id=rollout_id)
        rollout = type(self).action_service(rollout=rollout, actor=self.actor)
        return Response(RolloutOutSerializer(rollout).data)


def _action_schema(description: str) -> Any:
    return extend_schema(
        request=None,
        responses={200: RolloutOutSerializer, 409: OpenApiResponse(ERROR_RESPONSE, "Not possible in its status.")},
        tags=["rollouts"],
        description=description,
    )


class RolloutPauseApi(_RolloutActionApi):
    action_service = staticmethod(rollout_pause)

    @_action_schema("Freeze the step clock and the analysis; the step's routing stays live. Running only.")
    def post(self, request: Request, tenant: str, service: str, rollout_id: int) -> Response:
        return super().post(request, tenant, service, rollout_id)


class RolloutResumeApi(_RolloutActionApi):
    action_service = staticmethod(rollout_resume)

    @_action_schema("Continue a paused rollout where its step clock stopped.")
    def post(self, request: Request, tenant: str, service: str, rollout_id: int) -> Response:
        return super().post(request, tenant, service, rollout_id)


class RolloutAbortApi(_RolloutActionApi):
    action_service = staticmethod(rollout_abort)

    @_action_schema("Stop a running or paused rollout and restore the routing it started from (status `aborted`).")
    def post(self, request: Request, tenant: str, service: str, rollout_id: int) -> Response:
        return super().post(request, tenant, service, rollout_id)
