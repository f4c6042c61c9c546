"""Artifact access (DESIGN.md §6): a pool's token buys short-lived signed URLs for its own pool's versions only.

Each boundary is crossed once here: another pool's artifact, an expired URL, an altered one, a tenant
token on the runner endpoints, a pool token on the tenant API, no credential at all.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import timedelta
from io import StringIO
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit

import httpx
import pytest
from django.conf import settings
from django.core import signals
from django.core.management import call_command
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from django.test import Client
from django.utils import timezone

from contracts.config import DeploymentSpec
from contracts.pool_tokens import pool_token, pool_token_verify
from controlplane.registry.access import artifact_grant, artifact_grant_url
from controlplane.routing.models import ConfigRevision
from controlplane.tenancy.services import token_create
from model_runner.artifacts import ArtifactError, fetch_artifact
from tests.factories import ARTIFACT_BYTES, DeploymentFactory, ModelVersionFactory, ServiceFactory

pytestmark = pytest.mark.django_db


def _token(pool: str) -> str:
    return pool_token(secret=settings.RDV_RUNNER_SECRET, pool=pool)


def _grant_path(version) -> str:  # noqa: ANN001
    return urlsplit(
        artifact_grant_url(tenant=version.model.tenant.slug, model=version.model.slug, version=version.number)
    ).path


def _ask(version, token: str | None) -> object:  # noqa: ANN001
    extra = {"HTTP_AUTHORIZATION": f"Bearer {token}"} if token else {}
    return Client().post(_grant_path(version), **extra)


def _local(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}"


def _deployed(pool: str = "default"):  # noqa: ANN202
    return DeploymentFactory(pool=pool).version


def test_a_pool_token_gets_a_signed_url_that_downloads_without_any_other_credential() -> None:
    version = _deployed("default")

    granted = _ask(version, _token("default"))

    assert granted.status_code == 200, granted.content
    body = granted.json()
    assert body["url"].startswith(f"{settings.RDV_PUBLIC_URL}/api/v1/internal/artifacts/{version.sha256}?")
    assert 0 < body["expires_at"] - time.time() <= settings.RDV_ARTIFACT_URL_TTL_S + 1
    response = Client().get(_local(body["url"]))
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == ARTIFACT_BYTES
    assert response["Cache-Control"] == "private, no-store"


def test_a_token_of_pool_a_cannot_fetch_an_artifact_routed_only_to_pool_b() -> None:
    version = _deployed("pool-b")

    refused = _ask(version, _token("pool-a"))

    assert refused.status_code == 403
    name = f"{version.model.tenant.slug}/{version.model.slug} v{version.number}"
    assert refused.json() == {"error": "forbidden", "detail": f"{name} is not deployed to pool 'pool-a'"}
    assert _ask(version, _token("pool-b")).status_code == 200


def test_a_version_in_no_routing_is_refused_to_every_pool() -> None:
    version = ModelVersionFactory()

    assert _ask(version, _token("default")).status_code == 403


def test_a_version_leaving_the_routing_stays_fetchable_while_it_drains_then_not() -> None:
    service = ServiceFactory()
    version = ModelVersionFactory(model__tenant=service.tenant)
    row = {"model": version.model.slug, "version": version.number, "role": "champion", "pool": "default"}
    first = ConfigRevision.objects.create(service=service, number=1, snapshot={"deployments": [row]}, actor="t")
    replacement = ConfigRevision.objects.create(service=service, number=2, snapshot={"deployments": []}, actor="t")
    drain = timedelta(seconds=settings.RDV_ARTIFACT_DRAIN_S)
    ConfigRevision.objects.filter(pk=first.pk).update(created_at=timezone.now() - 2 * drain)

    assert _ask(version, _token("default")).status_code == 200, "replaced a moment ago: still draining"
    assert _ask(version, _token("other")).status_code == 403, "draining in its own pool only"

    ConfigRevision.objects.filter(pk=replacement.pk).update(created_at=timezone.now() - drain - timedelta(seconds=60))
    assert _ask(version, _token("default")).status_code == 403


def test_an_expired_url_is_403() -> None:
    version = _deployed()
    grant = artifact_grant(
        tenant=version.model.tenant.slug, model=version.model.slug, version=version.number, pool="default",
        now=time.time() - settings.RDV_ARTIFACT_URL_TTL_S - 5,
    )

    response = Client().get(_local(grant.url))

    assert response.status_code == 403
    assert response.json()["detail"] == "artifact URL refused: the URL has expired"


@pytest.mark.parametrize("field", ["signature", "expires", "pool", "version", "tenant"])
def test_a_url_altered_in_any_field_is_403(field: str) -> None:
    version = _deployed()
    other = ModelVersionFactory(model=version.model)  # the same bytes, another version: still not granted
    victim = ModelVersionFactory()  # another tenant's version
    grant = artifact_grant(
        tenant=version.model.tenant.slug, model=version.model.slug, version=version.number, pool="default",
        now=time.time(),
    )
    parts = urlsplit(grant.url)
    query = dict(parse_qsl(parts.query))
    query[field] = {
        "signature": ("0" if query["signature"][0] != "0" else "1") + query["signature"][1:],
        "expires": str(int(query["expires"]) + 3600),
        "pool": "gpu",
        "version": str(other.number),
        "tenant": victim.model.tenant.slug,
    }[field]

    response = Client().get(f"{parts.path}?{urlencode(query)}")

    assert response.status_code == 403
    assert response.json() == {"error": "forbidden", "detail": "artifact URL refused: the signature does not match"}


def test_a_signed_url_names_its_content_hash() -> None:
    version = _deployed()
    grant = artifact_grant(
        tenant=version.model.tenant.slug, model=version.model.slug, version=version.number, pool="default",
        now=time.time(),
    )
    parts = urlsplit(grant.url)

    response = Client().get(f"/api/v1/internal/artifacts/{'0' * 64}?{parts.query}")

    assert response.status_code == 403


def test_a_download_without_a_signature_is_refused() -> None:
    version = _deployed()

    bare = Client().get(f"/api/v1/internal/artifacts/{version.sha256}")
    with_old_token = Client().get(
        f"/api/v1/internal/artifacts/{version.sha256}", HTTP_AUTHORIZATION=f"Bearer {_token('default')}"
    )

    assert bare.status_code == with_old_token.status_code == 400
    assert bare.json()["error"] == "invalid"


@pytest.mark.parametrize("header", [None, "Bearer wrong", "Basic cnVubmVy", "Bearer dev-runner-token"])
def test_the_grant_needs_a_pool_token(header: str | None) -> None:
    version = _deployed()
    extra = {"HTTP_AUTHORIZATION": header} if header else {}

    response = Client().post(_grant_path(version), **extra)

    assert response.status_code == 401
    assert response.json()["error"] == "not_authenticated"
    assert response["WWW-Authenticate"] == 'Bearer realm="runners"'


def test_a_pool_token_made_with_another_secret_is_401() -> None:
    version = _deployed()

    forged = pool_token(secret="guessed-secret", pool="default")

    assert _ask(version, forged).status_code == 401


def test_a_tenant_token_cannot_use_the_runner_endpoints_nor_a_pool_token_the_tenant_api() -> None:
    version = _deployed()
    tenant = version.model.tenant
    _, secret = token_create(tenant=tenant, name="admin", scopes=["admin", "read", "deploy", "predict"])

    assert _ask(version, secret).status_code == 401
    tenant_api = Client().get(f"/api/v1/tenants/{tenant.slug}/models", HTTP_AUTHORIZATION=f"Bearer {_token('default')}")
    assert tenant_api.status_code == 401


def test_an_unknown_version_is_404() -> None:
    version = _deployed()

    response = Client().post(
        f"/api/v1/internal/tenants/{version.model.tenant.slug}/models/{version.model.slug}/versions/99/artifact-url",
        HTTP_AUTHORIZATION=f"Bearer {_token('default')}",
    )

    assert response.status_code == 404 and response.json()["error"] == "not_found"


def test_manage_py_prints_the_pool_token() -> None:
    out = StringIO()

    call_command("rdv_runner_token", "--pool", "gpu-1", stdout=out)

    assert pool_token_verify(secret=settings.RDV_RUNNER_SECRET, token=out.getvalue().strip()) == "gpu-1"


# The runner's own download code against the real control plane (WSGI, no server).


@pytest.fixture
def wsgi_client() -> Iterator[httpx.Client]:
    """The WSGI handler closes the database connection after each request; the test's transaction lives on it."""
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    try:
        with httpx.Client(transport=httpx.WSGITransport(app=get_wsgi_application())) as client:
            yield client
    finally:
        signals.request_started.connect(close_old_connections)
        signals.request_finished.connect(close_old_connections)


def _spec(version, pool: str) -> DeploymentSpec:  # noqa: ANN001
    return DeploymentSpec(
        model=version.model.slug, version=version.number, role="champion", pool=pool, format="skops",
        sha256=version.sha256,
        artifact_url=artifact_grant_url(
            tenant=version.model.tenant.slug, model=version.model.slug, version=version.number
        ),
    )


def test_the_runner_fetches_its_pools_artifact_and_caches_it(wsgi_client: httpx.Client, tmp_path: Path) -> None:
    version = _deployed("default")

    path = fetch_artifact(
        _spec(version, "default"), cache_dir=tmp_path, token=_token("default"),
        control_plane_url=settings.RDV_PUBLIC_URL, client=wsgi_client,
    )

    assert path.read_bytes() == ARTIFACT_BYTES and path.name == version.sha256


def test_the_runner_of_another_pool_gets_a_readable_refusal(wsgi_client: httpx.Client, tmp_path: Path) -> None:
    version = _deployed("pool-b")

    with pytest.raises(ArtifactError, match="answered 403: .*is not deployed to pool 'pool-a'"):
        fetch_artifact(_spec(version, "pool-b"), cache_dir=tmp_path, token=_token("pool-a"), client=wsgi_client)
    assert list(tmp_path.iterdir()) == []
