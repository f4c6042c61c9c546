"""Only the operator can let a tenant upload formats that run code: a tick in the tenant's admin page."""

from __future__ import annotations

import pickle

import pytest
from django.contrib.auth.models import User
from django.core.files.base import ContentFile
from django.test import Client

from controlplane.registry.services import version_create
from controlplane.registry.validation import version_validate
from controlplane.tenancy.models import Tenant
from tests.factories import ModelFactory

pytestmark = pytest.mark.django_db


def test_the_operator_trusts_a_tenant_in_the_admin_and_its_pickles_are_then_accepted() -> None:
    model = ModelFactory()
    operator = Client()
    operator.force_login(User.objects.create_superuser("ops", "ops@example.com", "pw"))
    tenant = model.tenant

    page = operator.get(f"/admin/tenancy/tenant/{tenant.pk}/change/")
    saved = operator.post(
        f"/admin/tenancy/tenant/{tenant.pk}/change/",
        {
            "name": tenant.name,
            "trusted_code": "on",
            "tokens-TOTAL_FORMS": "0",
            "tokens-INITIAL_FORMS": "0",
            "tokens-MIN_NUM_FORMS": "0",
            "tokens-MAX_NUM_FORMS": "1000",
        },
    )
    model.tenant = Tenant.objects.get(pk=tenant.pk)
    version = version_create(model=model, artifact_file=ContentFile(pickle.dumps({"w": [1]}), name="m.joblib"),
                             format="joblib", metadata={})

    assert 'name="trusted_code"' in page.content.decode()
    assert saved.status_code == 302, saved.content.decode()[:2000]
    assert model.tenant.trusted_code
    assert version_validate(version_id=version.pk).status == "ready"


def test_the_admin_upload_form_refuses_a_pickle_for_an_untrusted_tenant() -> None:
    model = ModelFactory()
    operator = Client()
    operator.force_login(User.objects.create_superuser("ops", "ops@example.com", "pw"))

    response = operator.post(
        "/admin/registry/modelversion/add/",
        {"model": model.pk, "format": "joblib", "metadata": "{}",
         "artifact": ContentFile(pickle.dumps({"w": [1]}), name="m.joblib")},
    )

    assert response.status_code == 200  # the form again, with the error
    assert "tick trusted code on the tenant" in response.content.decode()
    assert not model.versions.exists()
