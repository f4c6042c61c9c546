"""Models and their versions. An upload answers at once with ``validating``; a Celery task validates it."""

from __future__ import annotations

from django.db.models import Max, QuerySet
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import mixins, status
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response

from controlplane.api.schema import ERROR_RESPONSE
from controlplane.api.views import TenantViewSet
from controlplane.registry.models import Model, ModelVersion
from controlplane.registry.selectors import model_get, version_get
from controlplane.registry.serializers import (
    ModelInSerializer,
    ModelOutSerializer,
    VersionInSerializer,
    VersionOutSerializer,
)
from controlplane.registry.services import artifact_size_check, model_create, version_create

_WRITE_SCOPES = {"GET": "read", "POST": "deploy"}
# Room for the form's other fields and boundaries when judging an upload by its Content-Length.
_MULTIPART_SLACK = 1024 * 1024


@extend_schema_view(
    create=extend_schema(
        request=ModelInSerializer,
        responses={201: ModelOutSerializer, 409: OpenApiResponse(ERROR_RESPONSE, "The slug is taken.")},
    ),
)
@extend_schema(tags=["models"])
class ModelViewSet(mixins.ListModelMixin, TenantViewSet):
    serializer_class = ModelOutSerializer
    lookup_url_kwarg = "model"
    lookup_value_converter = "slug"
    required_scopes = _WRITE_SCOPES

    def get_queryset(self) -> QuerySet[Model]:
        return (
            Model.objects.filter(tenant=self.tenant).annotate(latest_version=Max("versions__number")).order_by("slug")
        )

    def retrieve(self, request: Request, tenant: str, model: str) -> Response:
        row = self.get_queryset().filter(slug=model).first() or model_get(tenant=self.tenant, slug=model)
        return Response(ModelOutSerializer(row).data)

    def create(self, request: Request, tenant: str) -> Response:
        body = ModelInSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        row = model_create(tenant=self.tenant, actor=self.actor, **body.validated_data)
        row.latest_version = None  # type: ignore[attr-defined]
        return Response(ModelOutSerializer(row).data, status=status.HTTP_201_CREATED)


@extend_schema_view(
    create=extend_schema(
        request={"multipart/form-data": VersionInSerializer},
        responses={
            201: OpenApiResponse(VersionOutSerializer, "Stored with `status: validating`; validation is queued."),
            400: OpenApiResponse(
                ERROR_RESPONSE, "Bad format or metadata, or a code format (joblib, pickle, python) from a tenant "
                "the operator has not trusted."
            ),
            413: OpenApiResponse(ERROR_RESPONSE, "The artifact is above RDV_ARTIFACT_MAX_BYTES."),
        },
        description=(
            "Upload an artifact as a new version (multipart). The answer comes at once with `status: validating`; "
            "a background task then loads the artifact in a separate process with time and memory limits and "
            "runs a smoke prediction on `metadata.example`. Poll `GET …/versions/<n>` until `status` is `ready` "
            "or `failed` (`report` says why). Only `ready` versions can be deployed (409 otherwise)."
        ),
    ),
)
@extend_schema(tags=["models"])
class VersionViewSet(mixins.ListModelMixin, TenantViewSet):
    serializer_class = VersionOutSerializer
    lookup_url_kwarg = "version"
    lookup_value_converter = "int"
    required_scopes = _WRITE_SCOPES
    parser_classes = [MultiPartParser, FormParser]

    def get_model(self) -> Model:
        return model_get(tenant=self.tenant, slug=self.kwargs["model"])

    def get_queryset(self) -> QuerySet[ModelVersion]:
        return ModelVersion.objects.filter(model=self.get_model()).order_by("-number")

    def retrieve(self, request: Request, tenant: str, model: str, version: int) -> Response:
        return Response(VersionOutSerializer(version_get(model=self.get_model(), number=version)).data)

    def create(self, request: Request, tenant: str, model: str) -> Response:
        model_row = self.get_model()
        # Refuse an oversized upload from its declared length, before the body is read and spooled to disk.
        declared = request.META.get("CONTENT_LENGTH")
        artifact_size_check(size=int(declared) - _MULTIPART_SLACK if declared and declared.isdigit() else None)
        body = VersionInSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        version = version_create(
            model=model_row,
            artifact_file=body.validated_data["artifact"],
            format=body.validated_data["format"],
            metadata=body.validated_data.get("metadata", {}),
            actor=self.actor,
        )
        return Response(VersionOutSerializer(version).data, status=status.HTTP_201_CREATED)
