"""The console in Debian's Chromium (Playwright, never a downloaded browser): log in as a tenant member,
open a service with stored roll-ups, and see one latency trace per deployment, drawn from plotly.js served
by the control plane itself. Every page is saved as a screenshot (laptop and phone widths) into
$RDV_SCREENSHOT_DIR, or a temporary folder whose path is printed."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from controlplane.routing.models import ConfigRevision
from tests.factories import ServiceFactory
from tests.frontend.builders import PASSWORD, member_of, watched_service

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
LAPTOP = {"width": 1366, "height": 900}
PHONE = {"width": 390, "height": 844}


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    # Playwright's sync API keeps an event loop running in this thread, and Django then refuses every ORM
    # call from it (the test database's set-up and flush included): allowed here, as Django's docs advise
    # for Playwright. The test makes its rows before it drives the browser; the server runs in its own thread.
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
            yield browser
            browser.close()
    finally:
        if previous is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


@pytest.fixture(scope="module")
def screenshots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = Path(os.environ.get("RDV_SCREENSHOT_DIR") or tmp_path_factory.mktemp("console-screenshots"))
    folder.mkdir(parents=True, exist_ok=True)
    print(f"[console] screenshots in {folder}")
    return folder


def _log_in(page: Page, base: str, username: str) -> None:
    page.goto(f"{base}/")
    assert page.url.startswith(f"{base}/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/")


@pytest.mark.django_db(transaction=True)
def test_a_member_sees_one_latency_trace_per_deployment(live_server, browser: Browser, screenshots: Path) -> None:  # noqa: ANN001
    watched = watched_service()
    service = watched.service
    ServiceFactory(tenant=service.tenant, slug="quiet-service", name="Quiet service")
    stranger = watched_service().service  # another tenant's: must not show
    route = {"model": "iris", "version": 1, "role": "champion", "weight": 100, "pool": "default", "sha256": "0" * 64}
    for number, weight in ((1, 100), (2, 50)):
        ConfigRevision.objects.create(service=service, number=number, actor=f"token:r{number}",
                                      snapshot={"revision": number, "deployments": [{**route, "weight": weight}]})
    user = member_of(service.tenant)
    base = live_server.url

    for name, viewport in (("laptop", LAPTOP), ("phone", PHONE)):
        page = browser.new_page(viewport=viewport)
        requested: list[str] = []
        page.on("request", lambda request, seen=requested: seen.append(request.url))
        page.goto(f"{base}/")
        page.screenshot(path=screenshots / f"login-{name}.png", full_page=True)
        _log_in(page, base, user.username)
        assert page.locator(f"text={service.slug}").count() >= 1
        assert stranger.slug not in page.content()
        page.screenshot(path=screenshots / f"overview-{name}.png", full_page=True)

        page.click(f"a[href='/console/t/{service.tenant.slug}/s/{service.slug}/']")
        page.wait_for_function("document.getElementById('chart-latency').data !== undefined")
        traces = page.evaluate(
            "Array.from(document.getElementById('chart-latency').data,"
            " trace => [trace.name, trace.y.filter(y => y !== null).length])"
        )
        assert traces == [["iris v1 (champion)", 3], ["iris v2 (challenger)", 3], ["tree v4 (fallback)", 3]]
        # The drawn chart has its lines (SVG paths), not only its data.
        assert page.locator("#chart-latency .scatterlayer .trace").count() == 3
        assert page.locator("[data-drift] .main-svg").count() >= 2
        page.screenshot(path=screenshots / f"service-{name}.png", full_page=True)

        prefix = f"{base}/console/t/{service.tenant.slug}/s/{service.slug}"
        page.click("nav.tabs >> text=Alerts")
        page.wait_for_url(f"{prefix}/alerts/")
        page.screenshot(path=screenshots / f"alerts-{name}.png", full_page=True)
        page.click("nav.tabs >> text=Decision lookup")
        page.fill("#request_id", watched.request_id)
        page.click("form.inline button")
        assert page.locator("#decision tbody tr").count() == 3
        page.screenshot(path=screenshots / f"decision-{name}.png", full_page=True)
        page.click("nav.tabs >> text=Config history")
        page.click("#compare button")
        assert page.locator("#diff .add").count() >= 1
        page.screenshot(path=screenshots / f"revisions-{name}.png", full_page=True)
        page.click("nav.tabs >> text=Audit log")
        page.wait_for_url(f"{base}/console/t/{service.tenant.slug}/audit/")
        page.screenshot(path=screenshots / f"audit-{name}.png", full_page=True)

        page.goto(f"{base}/console/t/{service.tenant.slug}/s/quiet-service/")
        page.wait_for_function("document.getElementById('chart-latency').data !== undefined")
        page.screenshot(path=screenshots / f"service-empty-{name}.png", full_page=True)

        # Nothing is fetched from anywhere but the control plane (no CDN).
        assert requested and all(url.startswith(base) for url in requested), requested
        page.close()
    assert len(list(screenshots.glob("*.png"))) >= 14
