"""Console pages: parse the request, ask ``frontend.selectors``, render. Every page needs a session login."""

from __future__ import annotations

import time
from pathlib import Path

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.cache import cache_control
from django.views.decorators.http import require_GET

from controlplane.alerts.selectors import alerts_list
from controlplane.audit.selectors import audit_list
from controlplane.decisions.selectors import decision_get
from controlplane.errors import NotFound
from frontend import selectors

_STATIC = Path(__file__).resolve().parent / "static" / "console"


def _plotly_js() -> Path:
    import plotly  # the Python package ships the matching plotly.min.js: no CDN, no collectstatic

    return Path(plotly.__file__).resolve().parent / "package_data" / "plotly.min.js"


# The only files the console serves itself (a view, so `make run` and production need no static server).
_ASSETS = {
    "console.css": (lambda: _STATIC / "console.css", "text/css"),
    "console.js": (lambda: _STATIC / "console.js", "text/javascript"),
    "plotly.min.js": (_plotly_js, "text/javascript"),
}


@require_GET
@cache_control(public=True, max_age=3600)
def asset(request: HttpRequest, name: str) -> FileResponse:
    found = _ASSETS.get(name)
    if found is None:
        raise Http404("no such asset")
    path, content_type = found
    return FileResponse(path().open("rb"), content_type=content_type)


def _retention_s() -> int:
    return settings.RDV_ROLLUP_MINUTE_RETENTION_HOURS * 3600


@login_required
@require_GET
def overview(request: HttpRequest) -> HttpResponse:
    tenants = selectors.overview(user=request.user, now=time.time(), minute_retention_s=_retention_s())
    return render(request, "console/overview.html", {"tenants": tenants})


def _windows() -> list[str]:
    """The windows the minute roll-ups still cover (``RDV_ROLLUP_MINUTE_RETENTION_HOURS`` may be as low as 2)."""
    return [name for name, (minutes, _) in selectors.WINDOWS.items() if minutes * 60 <= _retention_s()]


def _window(request: HttpRequest) -> str:
    window = request.GET.get("window", selectors.DEFAULT_WINDOW)
    return window if window in _windows() else selectors.DEFAULT_WINDOW


@login_required
@require_GET
def service(request: HttpRequest, tenant: str, service: str) -> HttpResponse:
    row = selectors.service_for_user(user=request.user, tenant=tenant, service=service)
    window = _window(request)
    page = selectors.service_page(service=row, window=window, now=time.time(), minute_retention_s=_retention_s())
    step_minutes = selectors.WINDOWS[window][1]
    return render(request, "console/service.html", {
        "service": row, "window": window, "windows": _windows(),
        "step": "minute" if step_minutes == 1 else f"{step_minutes} minutes", **page,
    })


@login_required
@require_GET
def service_charts(request: HttpRequest, tenant: str, service: str) -> JsonResponse:
    """The service page's chart data as JSON, for a page that refreshes without a reload."""
    row = selectors.service_for_user(user=request.user, tenant=tenant, service=service)
    page = selectors.service_page(
        service=row, window=_window(request), now=time.time(), minute_retention_s=_retention_s()
    )
    return JsonResponse({"charts": page["charts"], "drift": page["drift"]})


@login_required
@require_GET
def decision(request: HttpRequest, tenant: str, service: str) -> HttpResponse:
    """A decision by its request id, every candidate with its score; 404 when it is not (or no longer) stored."""
    row = selectors.service_for_user(user=request.user, tenant=tenant, service=service)
    request_id = request.GET.get("request_id", "").strip()[:128]
    context: dict[str, object] = {"service": row, "request_id": request_id, "decision": None, "missing": None}
    status = 200
    if request_id:
        try:
            context["decision"] = decision_get(service=row, request_id=request_id)
        except NotFound as exc:
            context["missing"], status = exc.detail, 404
    return render(request, "console/decision.html", context, status=status)


@login_required
@require_GET
def alerts(request: HttpRequest, tenant: str, service: str) -> HttpResponse:
    row = selectors.service_for_user(user=request.user, tenant=tenant, service=service)
    page = Paginator(alerts_list(service=row), 50).get_page(request.GET.get("page"))
    return render(request, "console/alerts.html", {"service": row, "page": page})


@login_required
@require_GET
def audit(request: HttpRequest, tenant: str) -> HttpResponse:
    row = selectors.tenant_for_user(user=request.user, tenant=tenant)
    action = request.GET.get("action", "").strip()[:64]
    page = Paginator(audit_list(tenant=row, action=action or None), 50).get_page(request.GET.get("page"))
    return render(request, "console/audit.html", {"tenant": row, "page": page, "action": action})


def _revision_number(request: HttpRequest, name: str) -> int | None:
    text = request.GET.get(name, "")
    if not text.isdecimal() or len(text) > 9:
        return None
    return int(text)


@login_required
@require_GET
def revisions(request: HttpRequest, tenant: str, service: str) -> HttpResponse:
    row = selectors.service_for_user(user=request.user, tenant=tenant, service=service)
    page = selectors.revisions_page(
        service=row, older=_revision_number(request, "older"), newer=_revision_number(request, "newer")
    )
    return render(request, "console/revisions.html", {"service": row, **page})
