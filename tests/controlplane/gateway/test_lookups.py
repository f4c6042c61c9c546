"""Who may predict: the gateway's cached authorisation follows the token's own scope rule."""

from __future__ import annotations

import asyncio

import pytest

from controlplane.gateway import lookups
from controlplane.gateway.errors import GatewayError
from controlplane.tenancy.services import token_create
from tests.factories import TenantFactory


def _authorise(secret: str, tenant: str) -> lookups.Caller:
    return asyncio.run(lookups.authorise(f"Bearer {secret}", tenant, "predict"))


@pytest.mark.django_db(transaction=True)
def test_an_admin_token_may_predict_and_a_read_only_one_may_not() -> None:
    tenant = TenantFactory()
    _, admin = token_create(tenant=tenant, name="ops", scopes=["admin"])
    _, reader = token_create(tenant=tenant, name="dash", scopes=["read"])
    assert _authorise(admin, tenant.slug).tenant == tenant.slug
    with pytest.raises(GatewayError) as refused:
        _authorise(reader, tenant.slug)
    assert (refused.value.status, refused.value.code) == (403, "forbidden")


@pytest.mark.django_db(transaction=True)
def test_unknown_tokens_cannot_grow_the_cache_without_bound(monkeypatch: pytest.MonkeyPatch) -> None:
    tenant = TenantFactory()
    monkeypatch.setattr(lookups, "CACHE_MAX_ENTRIES", 5)
    monkeypatch.setattr(lookups, "_callers", {})
    for i in range(20):
        with pytest.raises(GatewayError):
            _authorise(f"rdv_nope_{i}", tenant.slug)
    assert len(lookups._callers) <= 5
