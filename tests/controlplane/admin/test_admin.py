"""The operator console (Django admin) renders every page, and routing edits there reach the workers."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.test import Client

from contracts import ServiceConfig, config_key, decode
from controlplane.routing.models import ConfigRevision
from controlplane.tenancy.models import ApiToken
from tests.factories import DeploymentFactory, ModelVersionFactory, ServiceFactory


@pytest.fixture
def operator(db: None) -> Client:
    client = Client()
    client.force_login(User.objects.create_superuser("ops", "ops@example.com", "pw"))
    return client


@pytest.mark.django_db
def test_every_admin_page_renders(operator: Client) -> None:
    deployment = DeploymentFactory()
    version = deployment.version
    pages = [
        "/admin/",
        "/admin/tenancy/tenant/",
        f"/admin/tenancy/tenant/{deployment.service.tenant.pk}/change/",
        "/admin/tenancy/apitoken/",
        "/admin/registry/model/",
        f"/admin/registry/model/{version.model.pk}/change/",
        "/admin/registry/modelversion/add/",
        f"/admin/registry/modelversion/{version.pk}/change/",
        "/admin/routing/service/",
        "/admin/routing/service/add/",
        f"/admin/routing/service/{deployment.service.pk}/change/",
        "/admin/routing/configrevision/",
        "/admin/audit/auditevent/",
        "/admin/feedback/feedback/",
    ]
    for page in pages:
        assert operator.get(page).status_code == 200, page


@pytest.mark.django_db
def test_create_token_action_shows_the_secret_once(operator: Client) -> None:
    service = ServiceFactory()

    response = operator.post(
        "/admin/tenancy/tenant/",
        {"action": "create_token", "_selected_action": [service.tenant.pk]},
        follow=True,
    )

    token = ApiToken.objects.get(tenant=service.tenant)
    assert f"rdv_{token.prefix}_" in response.content.decode()


@pytest.mark.django_db(transaction=True)
def test_saving_a_service_in_the_admin_publishes_a_revision(operator: Client, config_reader) -> None:  # noqa: ANN001
    service = ServiceFactory()
    version = ModelVersionFactory(model__tenant=service.tenant)
    form = {
        "name": service.name,
        "input_schema": '{"type": "object"}',
        "deadline_ms": 250,
        "external_state": "{}",
        "deployments-TOTAL_FORMS": 1,
        "deployments-INITIAL_FORMS": 0,
        "deployments-0-version": version.pk,
        "deployments-0-role": "champion",
        "deployments-0-weight": 100,
        "deployments-0-rank": 0,
        "deployments-0-pool": "default",
    }

    response = operator.post(f"/admin/routing/service/{service.pk}/change/", form)

    assert response.status_code == 302, response.content.decode()[:2000]
    [value] = config_reader(config_key(service.tenant.slug, service.slug))
    snapshot = decode(ServiceConfig, value)
    assert snapshot.deadline_ms == 250 and [d.version for d in snapshot.deployments] == [version.number]
    assert ConfigRevision.objects.get(service=service).actor == "admin:ops"
