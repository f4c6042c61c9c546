"""Runners download artifacts by content hash with the shared runner token, and nobody else can."""

from __future__ import annotations

import pytest
from django.test import Client, override_settings

from tests.factories import ARTIFACT_BYTES, ModelVersionFactory

pytestmark = pytest.mark.django_db


@override_settings(RDV_RUNNER_TOKEN="runner-secret")
def test_runner_token_downloads_the_artifact() -> None:
    version = ModelVersionFactory()

    response = Client().get(
        f"/api/v1/internal/artifacts/{version.sha256}", HTTP_AUTHORIZATION="Bearer runner-secret"
    )

    assert response.status_code == 200
    assert b"".join(response.streaming_content) == ARTIFACT_BYTES
    assert response["ETag"] == f'"{version.sha256}"'


@override_settings(RDV_RUNNER_TOKEN="runner-secret")
@pytest.mark.parametrize("header", [None, "Bearer wrong", "Basic cnVubmVy"])
def test_anything_but_the_runner_token_is_401(header: str | None) -> None:
    version = ModelVersionFactory()
    extra = {"HTTP_AUTHORIZATION": header} if header else {}

    response = Client().get(f"/api/v1/internal/artifacts/{version.sha256}", **extra)

    assert response.status_code == 401
    assert response.json()["error"] == "not_authenticated"
    assert response["WWW-Authenticate"].startswith("Bearer")


@override_settings(RDV_RUNNER_TOKEN="runner-secret")
def test_unknown_hash_is_404_json() -> None:
    response = Client().get(
        "/api/v1/internal/artifacts/" + "0" * 64, HTTP_AUTHORIZATION="Bearer runner-secret"
    )

    assert response.status_code == 404 and response.json()["error"] == "not_found"
