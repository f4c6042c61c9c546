"""The predict endpoint as a Django view: used by Django's test client and WSGI deployments.

Under ASGI the same endpoint is served by the fast path in controlplane/gateway/asgi.py, in front of
Django's middleware; both call controlplane.gateway.predicting.predict.
"""

from __future__ import annotations

from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt

from controlplane.gateway.errors import GatewayError
from controlplane.gateway.predicting import predict as predict_one


@csrf_exempt
async def predict(request: HttpRequest, tenant: str, service: str) -> JsonResponse:
    if request.method != "POST":
        return GatewayError(405, "method_not_allowed", "use POST").response()
    status, body, headers = await predict_one(
        authorization=request.headers.get("Authorization"), tenant=tenant, service=service, body=request.body
    )
    response = JsonResponse(body, status=status)
    if status == 401:
        response["WWW-Authenticate"] = 'Bearer realm="api"'
    for name, value in headers.items():
        response[name] = value
    return response
