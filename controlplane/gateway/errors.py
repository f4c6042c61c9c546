"""The JSON error shape of DESIGN.md §6, for the gateway's plain async views."""

from __future__ import annotations

from typing import Any

from django.http import JsonResponse


class GatewayError(Exception):
    def __init__(self, status: int, code: str, detail: Any) -> None:
        super().__init__(detail)
        self.status = status
        self.code = code
        self.detail = detail
        # Extra response headers (``Retry-After`` on a 429).
        self.headers: dict[str, str] = {}

    def body(self) -> dict[str, Any]:
        return {"error": self.code, "detail": self.detail}

    def response(self) -> JsonResponse:
        response = JsonResponse(self.body(), status=self.status)
        if self.status == 401:
            response["WWW-Authenticate"] = 'Bearer realm="api"'
        for name, value in self.headers.items():
            response[name] = value
        return response
