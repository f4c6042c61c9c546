"""A member of tenant A finds nothing of tenant B's in the console: every URL is a 404, the overview
leaves B out, and naming B's service under A's slug does not help."""

from __future__ import annotations

import pytest
from django.test import Client

from tests.frontend.builders import member_of, watched_service

pytestmark = pytest.mark.django_db

PAGES = ("/console/t/{tenant}/s/{service}/", "/console/t/{tenant}/s/{service}/charts.json",
         "/console/t/{tenant}/s/{service}/?window=24h", "/console/t/{tenant}/s/{service}/charts.json?window=6h",
         "/console/t/{tenant}/s/{service}/alerts/", "/console/t/{tenant}/s/{service}/decisions/",
         "/console/t/{tenant}/s/{service}/decisions/?request_id={request_id}", "/console/t/{tenant}/audit/",
         "/console/t/{tenant}/s/{service}/revisions/")


def test_a_member_of_one_tenant_finds_nothing_of_another() -> None:
    mine_watched, theirs_watched = watched_service(), watched_service()
    mine, theirs = mine_watched.service, theirs_watched.service
    client = Client()
    client.force_login(member_of(mine.tenant))

    for page in PAGES:
        own = client.get(page.format(tenant=mine.tenant.slug, service=mine.slug, request_id=mine_watched.request_id))
        assert own.status_code == 200, page
        other = client.get(page.format(tenant=theirs.tenant.slug, service=theirs.slug,
                                       request_id=theirs_watched.request_id))
        assert other.status_code == 404, page
        assert theirs_watched.request_id not in other.content.decode()
        if "{service}" in page:
            # B's service named under A's tenant: still nothing.
            assert client.get(page.format(tenant=mine.tenant.slug, service=theirs.slug,
                                          request_id=theirs_watched.request_id)).status_code == 404, page
    # B's request id looked up in A's own service: not found there either.
    crossed = client.get(f"/console/t/{mine.tenant.slug}/s/{mine.slug}/decisions/",
                         {"request_id": theirs_watched.request_id})
    assert crossed.status_code == 404 and 'id="decision"' not in crossed.content.decode()
    overview = client.get("/").content.decode()
    assert mine.slug in overview
    assert theirs.slug not in overview and theirs.tenant.slug not in overview


def test_an_anonymous_visitor_is_sent_to_login_from_every_page() -> None:
    service = watched_service().service
    for page in PAGES:
        response = Client().get(page.format(tenant=service.tenant.slug, service=service.slug, request_id="x"))
        assert response.status_code == 302 and response.url.startswith("/login/?next=")


def test_staff_see_every_tenants_service() -> None:
    service = watched_service().service
    client = Client()
    client.force_login(member_of(None, staff=True))
    assert client.get(f"/console/t/{service.tenant.slug}/s/{service.slug}/").status_code == 200
