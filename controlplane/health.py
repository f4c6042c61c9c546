"""Liveness and readiness probes: ``/healthz`` says the process answers, ``/readyz`` that it can work."""

from __future__ import annotations

from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.views.decorators.http import require_GET

from contracts.kafka import KafkaError
from controlplane.gateway.replies import get_hub


@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": "ok"})


@require_GET
def readyz(request: HttpRequest) -> JsonResponse:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except Exception as exc:  # any database failure means "do not route traffic here"
        return JsonResponse({"status": "unavailable", "database": str(exc)}, status=503)
    try:
        # The gateway can only answer once it owns a partition of the replies topic.
        reply_to = get_hub().reply_to(timeout=10.0)
    except KafkaError as exc:
        return JsonResponse({"status": "unavailable", "database": "ok", "stream": str(exc)}, status=503)
    stream = f"{reply_to.topic}[{reply_to.partition}]"
    return JsonResponse({"status": "ok", "database": "ok", "stream": stream})
