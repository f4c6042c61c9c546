"""Tokens: shown once, stored hashed, authenticate until revoked, and carry only the scopes given."""

from __future__ import annotations

import hashlib

import pytest
from asgiref.sync import async_to_sync

from controlplane.errors import InvalidInput
from controlplane.tenancy.models import ApiToken
from controlplane.tenancy.selectors import atoken_authenticate, token_authenticate
from controlplane.tenancy.services import tenant_create, token_create, token_revoke
from tests.factories import TenantFactory

pytestmark = pytest.mark.django_db


def test_secret_is_returned_once_and_only_its_hash_is_stored() -> None:
    tenant = TenantFactory()
    token, secret = token_create(tenant=tenant, name="ci", scopes=["read", "deploy"])

    assert secret.startswith(f"rdv_{token.prefix}_") and len(token.prefix) == 8
    stored = ApiToken.objects.get(pk=token.pk)
    assert stored.key_hash == hashlib.sha256(secret.encode()).hexdigest()
    assert secret not in {str(value) for value in stored.__dict__.values()}
    assert stored.scopes == ["deploy", "read"]


def test_authenticate_finds_the_token_and_its_tenant() -> None:
    token, secret = token_create(tenant=TenantFactory(), name="ci", scopes=["read"])

    found = token_authenticate(secret=secret)

    assert found is not None and found.pk == token.pk and found.tenant.slug == token.tenant.slug


def test_wrong_or_revoked_secrets_do_not_authenticate() -> None:
    token, secret = token_create(tenant=TenantFactory(), name="ci", scopes=["read"])

    assert token_authenticate(secret=secret + "x") is None
    assert token_authenticate(secret="Bearer nonsense") is None
    token_revoke(token=token)
    assert token_authenticate(secret=secret) is None


def test_async_authentication_matches_the_sync_one() -> None:
    token, secret = token_create(tenant=TenantFactory(), name="gateway", scopes=["predict"])

    found = async_to_sync(atoken_authenticate)(secret=secret)

    assert found is not None and found.pk == token.pk and found.tenant.slug == token.tenant.slug
    assert async_to_sync(atoken_authenticate)(secret="rdv_nope_nope") is None


@pytest.mark.parametrize("scopes", [[], ["read", "superuser"]])
def test_scopes_must_be_known_and_non_empty(scopes: list[str]) -> None:
    with pytest.raises(InvalidInput):
        token_create(tenant=TenantFactory(), name="ci", scopes=scopes)


def test_admin_scope_implies_the_others() -> None:
    token, _ = token_create(tenant=TenantFactory(), name="ops", scopes=["admin"])
    narrow, _ = token_create(tenant=token.tenant, name="reader", scopes=["read"])

    assert token.has_scope("deploy") and token.has_scope("predict")
    assert narrow.has_scope("read") and not narrow.has_scope("deploy")


@pytest.mark.parametrize("slug", ["Demo", "-demo", "de_mo", "x" * 64, ""])
def test_tenant_slugs_follow_the_topic_name_rule(slug: str) -> None:
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError):
        tenant_create(slug=slug, name="bad")
