"""The console's pages over HTTP: login with CSRF, who sees what, and the charts' data."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime

import pytest
from django.test import Client
from django.utils import timezone

from controlplane.fleet.models import VersionPlacement, WorkerReport
from controlplane.routing.models import ConfigRevision
from tests.factories import ServiceFactory, TenantFactory
from tests.frontend.builders import PASSWORD, member_of, watched_service

pytestmark = pytest.mark.django_db


def _logged_in(user) -> Client:  # noqa: ANN001
    client = Client()
    client.force_login(user)
    return client


def _figure(html: str, element_id: str) -> dict:
    found = re.search(rf'<script id="{element_id}" type="application/json">(.*?)</script>', html, re.S)
    assert found, f"no {element_id} in the page"
    return json.loads(found.group(1))


def test_the_root_sends_a_visitor_to_the_login_page() -> None:
    response = Client().get("/")
    assert response.status_code == 302 and response.url == "/login/?next=/"


def test_login_needs_the_csrf_token_and_then_leads_to_the_overview() -> None:
    user = member_of(TenantFactory())
    client = Client(enforce_csrf_checks=True)
    credentials = {"username": user.username, "password": PASSWORD}

    assert client.post("/login/", credentials).status_code == 403  # no token: refused
    page = client.get("/login/")
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.content.decode()).group(1)
    response = client.post("/login/", {**credentials, "csrfmiddlewaretoken": token})

    assert response.status_code == 302 and response.url == "/"
    assert client.get("/").status_code == 200


def test_a_wrong_password_is_refused() -> None:
    user = member_of(TenantFactory())
    response = Client().post("/login/", {"username": user.username, "password": "wrong"})
    assert response.status_code == 200 and b"did not match" in response.content
    assert Client().get("/").status_code == 302


def test_logout_is_a_post() -> None:
    client = _logged_in(member_of(TenantFactory()))
    assert client.get("/logout/").status_code == 405
    assert client.post("/logout/").status_code == 302
    assert client.get("/").status_code == 302


def test_the_overview_shows_the_members_services_with_their_last_hour() -> None:
    watched = watched_service()
    quiet = ServiceFactory(tenant=watched.service.tenant)
    client = _logged_in(member_of(watched.service.tenant))

    html = client.get("/").content.decode()

    assert watched.service.slug in html and quiet.slug in html
    # 30 decisions in each of the 3 minutes, every one with the champion among its candidates.
    assert re.search(r'<td class="num">90</td>', html)
    assert "1 firing" in html
    assert 'aria-label="90 requests in the last hour"' in html


def test_a_user_without_membership_sees_no_tenant_and_staff_see_every_one() -> None:
    a, b = ServiceFactory(), ServiceFactory()

    nobody = _logged_in(member_of(None)).get("/").content.decode()
    staff = _logged_in(member_of(None, staff=True)).get("/").content.decode()

    assert a.slug not in nobody and b.slug not in nobody and "not a member of any tenant" in nobody
    assert a.slug in staff and b.slug in staff


def test_the_service_page_has_the_routing_the_charts_the_league_and_the_alerts() -> None:
    watched = watched_service()
    service = watched.service
    client = _logged_in(member_of(service.tenant))

    response = client.get(f"/console/t/{service.tenant.slug}/s/{service.slug}/")

    assert response.status_code == 200
    html = response.content.decode()
    latency = _figure(html, "figure-latency")
    assert [trace["name"] for trace in latency["data"]] == [
        "iris v1 (champion)", "iris v2 (challenger)", "tree v4 (fallback)"
    ]
    # Every minute of the hour, null where the deployment decided nothing: the line breaks there.
    minutes = [datetime.fromtimestamp(m, tz=UTC).isoformat() for m in watched.minutes]
    for trace in latency["data"]:
        assert len(trace["x"]) == 60 and trace["connectgaps"] is False
        assert [x for x, y in zip(trace["x"], trace["y"], strict=True) if y is not None] == minutes
    assert [b["label"] for b in latency["layout"]["updatemenus"][0]["buttons"]] == ["p99", "p95", "p50"]
    rates = _figure(html, "figure-rates")
    assert len(rates["data"]) == 3 and all(0 <= y <= 1 for y in rates["data"][0]["y"] if y is not None)
    drift = _figure(html, "figure-drift")
    assert [(c["feature"], c["flagged"]) for c in drift] == [("petal_length", True), ("sepal_width", False)]
    assert drift[0]["figure"]["data"][1]["y"] == [0.2, 0.2, 0.2]  # the threshold line
    assert '<span class="role challenger">challenger</span>' in html
    assert "iris v2" in html.split('id="league"')[1]
    assert 'class="firing"><td>p99 latency</td>' in html and "90 ms" in html
    assert "/console/assets/plotly.min.js" in html and "cdn" not in html.lower()


def test_the_chart_data_endpoint_answers_the_same_figures() -> None:
    service = watched_service().service
    client = _logged_in(member_of(service.tenant))

    body = client.get(f"/console/t/{service.tenant.slug}/s/{service.slug}/charts.json?window=6h").json()

    assert len(body["charts"]["latency"]["data"]) == 3 and len(body["drift"]) == 2


def test_plotly_is_served_from_the_installed_package() -> None:
    client = Client()
    response = client.get("/console/assets/plotly.min.js")
    assert response.status_code == 200 and response["Content-Type"].startswith("text/javascript")
    assert b"plotly.js" in b"".join(response.streaming_content)[:2000]
    assert client.get("/console/assets/console.css").status_code == 200
    assert client.get("/console/assets/..%2Fsettings.py").status_code == 404


def test_the_decision_lookup_shows_every_candidate_and_says_when_there_is_none() -> None:
    watched = watched_service()
    service = watched.service
    client = _logged_in(member_of(service.tenant))
    url = f"/console/t/{service.tenant.slug}/s/{service.slug}/decisions/"

    found = client.get(url, {"request_id": watched.request_id})
    missing = client.get(url, {"request_id": "no-such-request"})

    assert found.status_code == 200
    rows = found.content.decode().split('id="decision"')[1]
    for deployment in ("iris v1", "iris v2", "tree v4"):
        assert f"<td>{deployment}</td>" in rows
    assert missing.status_code == 404 and "no decision for request" in missing.content.decode()
    assert client.get(url).status_code == 200  # the empty form


def test_the_alerts_and_audit_pages_list_the_tenants_records() -> None:
    service = watched_service().service
    client = _logged_in(member_of(service.tenant))

    alerts = client.get(f"/console/t/{service.tenant.slug}/s/{service.slug}/alerts/").content.decode()
    audit = client.get(f"/console/t/{service.tenant.slug}/audit/").content.decode()
    filtered = client.get(f"/console/t/{service.tenant.slug}/audit/", {"action": "tokens.create"}).content.decode()

    assert "<td>firing</td><td>p99 latency</td>" in alerts and "95 ms" in alerts
    assert "token:ci" in audit and "deployments.replace" in audit
    assert "token:ci" not in filtered and "Nothing recorded for this action" in filtered


def test_the_routing_table_says_on_how_many_live_runners_each_deployment_is_ready() -> None:
    service = watched_service().service
    deployments = list(service.deployments.select_related("version__model").order_by("role"))
    snapshot = {"deployments": [
        {"model": d.version.model.slug, "version": d.version.number, "sha256": d.version.sha256, "role": d.role,
         "pool": d.pool} for d in deployments
    ]}
    ConfigRevision.objects.create(service=service, number=1, snapshot=snapshot, actor="test",
                                  published_at=timezone.now())
    for worker, states in (("runner-a", {"champion": "ready", "challenger": "failed"}),
                           ("runner-b", {"champion": "ready"})):
        report = WorkerReport.objects.create(
            worker=f"{worker}-{service.slug}", kind="runner", pool="default", at=timezone.now(), interval_s=5,
            revisions={f"{service.tenant.slug}/{service.slug}": {"revision": 1}},
        )
        for d in deployments:
            if d.role in states:
                VersionPlacement.objects.create(
                    report=report, tenant=service.tenant.slug, model=d.version.model.slug, version=d.version.number,
                    sha256=d.version.sha256, state=states[d.role], error="boom" if states[d.role] == "failed" else "",
                )
    client = _logged_in(member_of(service.tenant))

    html = client.get(f"/console/t/{service.tenant.slug}/s/{service.slug}/").content.decode()
    routing = html.split('id="routing"')[1].split("</section>")[0]

    rows = {role: row for role in ("champion", "challenger", "fallback") for row in routing.split("<tr>")
            if f'class="role {role}"' in row}
    assert "2 of 2 runners" in rows["champion"]
    assert "0 of 2 runners" in rows["challenger"] and "1 failed" in rows["challenger"]
    assert "0 of 2 runners" in rows["fallback"]
    assert "Revision 1:" in routing


def test_the_config_history_diffs_two_revisions() -> None:
    service = watched_service().service
    route = {"model": "iris", "version": 1, "role": "champion", "weight": 100, "pool": "default", "sha256": "0" * 64}
    for number, weight in ((1, 100), (2, 50), (3, 50)):
        ConfigRevision.objects.create(service=service, number=number, actor=f"token:r{number}",
                                      snapshot={"revision": number, "deployments": [{**route, "weight": weight}]})
    client = _logged_in(member_of(service.tenant))
    url = f"/console/t/{service.tenant.slug}/s/{service.slug}/revisions/"

    latest = client.get(url).content.decode()  # the live revision against the one before: alike
    chosen = client.get(url, {"older": 1, "newer": 3}).content.decode()

    assert "token:r1" in latest and "token:r3" in latest and "The two revisions route alike" in latest
    diff = chosen.split('id="diff"')[1]
    assert '<span class="del">-      &quot;weight&quot;: 100</span>' in diff
    assert '<span class="add">+      &quot;weight&quot;: 50</span>' in diff
    assert "&quot;revision&quot;" not in diff  # every snapshot's own number is left out of the diff
    assert client.get(url, {"older": 9, "newer": 3}).status_code == 404


def test_only_the_windows_the_minute_roll_ups_still_cover_are_offered(settings) -> None:  # noqa: ANN001
    service = ServiceFactory()
    client = _logged_in(member_of(service.tenant))
    url = f"/console/t/{service.tenant.slug}/s/{service.slug}/"
    settings.RDV_ROLLUP_MINUTE_RETENTION_HOURS = 6

    html = client.get(url, {"window": "24h"}).content.decode()

    assert 'href="?window=6h"' in html and 'href="?window=24h"' not in html
    assert 'class="active" aria-current="page">1h</a>' in html  # 24h asked, not covered: the default
