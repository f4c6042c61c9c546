"""Acceptance 5 (issue 14): past its rate quota a tenant gets 429 with Retry-After, while another tenant's
predictions at the same time, through the real gateway, broker and workers, are all answered."""

from __future__ import annotations

import asyncio
import uuid

import httpx
import pytest

from tests.e2e.test_predict import ROWS, champion_v1_answers, inputs_of

QUOTA_PER_S = 5


@pytest.fixture(scope="module")
def limited(platform, django_db_blocker):  # noqa: ANN001, ANN201
    """Tenant B: the operator gave it 5 predictions per second; its service has no model (answers 5xx)."""
    from controlplane.routing.services import service_create
    from controlplane.tenancy.services import tenant_create, token_create

    with django_db_blocker.unblock():
        tenant = tenant_create(slug=f"limited-{uuid.uuid4().hex[:8]}", name="Limited")
        tenant.quota_predictions_per_s = QUOTA_PER_S
        tenant.save(update_fields=["quota_predictions_per_s"])
        _, secret = token_create(tenant=tenant, name="ci", scopes=["predict"])
        service_create(tenant=tenant, slug="capped", name="Capped", input_schema={"type": "object"}, deadline_ms=200)
    return tenant.slug, secret


def test_past_its_rate_a_tenant_gets_429_while_another_tenant_is_unaffected(platform, limited) -> None:  # noqa: ANN001
    # The new service makes the workers' groups rebalance: 1-2 s on confluent, 10-20 s on kafka-python (README).
    champion_v1_answers(platform, within_s=45)
    tenant_b, token_b = limited
    url_b = platform.predict_url(tenant_b, "capped")

    async def tenant_a(client: httpx.AsyncClient) -> list[int]:
        codes = []
        for row in list(ROWS) * 2:
            response = await client.post(
                platform.predict_url(), json={"inputs": inputs_of(row)}, headers=platform.auth()
            )
            codes.append(response.status_code)
        return codes

    async def tenant_b_flood(client: httpx.AsyncClient) -> list[httpx.Response]:
        headers = {"Authorization": f"Bearer {token_b}"}
        return await asyncio.gather(
            *(client.post(url_b, json={"inputs": {"n": n}}, headers=headers) for n in range(40))
        )

    async def both() -> tuple[list[int], list[httpx.Response]]:
        async with httpx.AsyncClient(timeout=30) as client:
            return await asyncio.gather(tenant_a(client), tenant_b_flood(client))

    codes_a, answers_b = asyncio.run(both())

    limited_answers = [r for r in answers_b if r.status_code == 429]
    admitted = [r for r in answers_b if r.status_code != 429]
    assert codes_a == [200] * len(codes_a), codes_a
    assert len(limited_answers) >= 40 - 2 * QUOTA_PER_S, [r.status_code for r in answers_b]
    assert 1 <= len(admitted) <= 2 * QUOTA_PER_S
    for response in limited_answers:
        assert response.json()["error"] == "rate_limited"
        assert int(response.headers["Retry-After"]) >= 1
