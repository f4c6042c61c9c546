"""A tiny typed client of the Rendezvous v1 API: one method per call the CLI needs.

Errors surface as :class:`ApiError` (the server answered 4xx, with its ``{"error", "detail"}``) or
:class:`ServerError` (5xx, or the server could not be reached).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

PENDING_STATUSES = frozenset({"registered", "validating"})
# Readiness states that may still change on their own: the automatic fallback rolls a failed one back.
UNSETTLED_READINESS = frozenset({"pending", "failed"})


class ClientError(Exception):
    """Base of every error the client raises."""


class ApiError(ClientError):
    """The server refused the request (4xx)."""

    def __init__(self, status_code: int, code: str, detail: Any) -> None:
        self.status_code = status_code
        self.code = code
        self.detail = detail
        super().__init__(f"{status_code} {code}: {_detail_text(detail)}")


class ServerError(ClientError):
    """The server failed (5xx) or could not be reached."""


def _detail_text(detail: Any) -> str:
    if isinstance(detail, str):
        return detail
    if isinstance(detail, dict):
        return "; ".join(f"{key}: {_detail_text(value)}" for key, value in detail.items())
    if isinstance(detail, list):
        return "; ".join(_detail_text(item) for item in detail)
    return str(detail)


class RendezvousClient:
    def __init__(
        self,
        url: str,
        token: str,
        tenant: str,
        *,
        timeout: float = 30.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        base = url.rstrip("/")
        if not base.endswith("/api/v1"):
            base += "/api/v1"
        self.tenant = tenant
        self._http = httpx.Client(
            base_url=base,
            headers={"Authorization": f"Bearer {token}", "Accept": "application/json"},
            timeout=timeout,
            transport=transport,
        )

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> RendezvousClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- plumbing ---------------------------------------------------------------------------------

    def _request(self, method: str, path: str, **kwargs: Any) -> Any:
        try:
            response = self._http.request(method, f"/tenants/{self.tenant}{path}", **kwargs)
        except httpx.HTTPError as exc:  # connection refused, timeouts, protocol errors
            raise ServerError(f"cannot reach {self._http.base_url}: {exc}") from exc
        try:
            body = response.json()
        except ValueError:
            body = None
        if response.status_code >= 500:
            detail = _detail_text(body.get("detail")) if isinstance(body, dict) else response.text[:200]
            raise ServerError(f"server error {response.status_code}: {detail}")
        if response.status_code >= 400:
            if isinstance(body, dict) and "error" in body:
                raise ApiError(response.status_code, str(body["error"]), body.get("detail"))
            raise ApiError(response.status_code, "http_error", response.text[:200] or response.reason_phrase)
        if body is None:
            raise ServerError(f"server answered {response.status_code} without JSON")
        return body

    # -- versions ---------------------------------------------------------------------------------

    def upload_version(self, model: str, artifact: Path, fmt: str, metadata: dict[str, Any]) -> dict[str, Any]:
        with artifact.open("rb") as handle:
            return self._request(
                "POST",
                f"/models/{model}/versions",
                files={"artifact": (artifact.name, handle, "application/octet-stream")},
                data={"format": fmt, "metadata": json.dumps(metadata)},
            )

    def get_version(self, model: str, version: int) -> dict[str, Any]:
        return self._request("GET", f"/models/{model}/versions/{version}")

    def wait_version(
        self,
        model: str,
        version: dict[str, Any],
        timeout: float,
        interval: float = 1.0,
        on_progress: Callable[[dict[str, Any], float], None] | None = None,
    ) -> dict[str, Any]:
        """Poll until the version leaves ``registered``/``validating`` or ``timeout`` seconds pass.

        ``on_progress(version, elapsed_s)`` is called after every poll, so a caller can show progress.
        """
        started = time.monotonic()
        while version.get("status") in PENDING_STATUSES and time.monotonic() - started < timeout:
            time.sleep(min(interval, max(0.0, timeout - (time.monotonic() - started))))
            version = self.get_version(model, int(version["version"]))
            if on_progress is not None:
                on_progress(version, time.monotonic() - started)
        return version

    # -- routing ----------------------------------------------------------------------------------

    def get_deployments(self, service: str) -> dict[str, Any]:
        return self._request("GET", f"/services/{service}/deployments")

    def put_deployments(self, service: str, deployments: list[dict[str, Any]]) -> int:
        body = self._request("PUT", f"/services/{service}/deployments", json={"deployments": deployments})
        return int(body["revision"])

    def promote(self, service: str, model: str, version: int) -> int:
        body = self._request("POST", f"/services/{service}/promote", json={"model": model, "version": version})
        return int(body["revision"])

    def rollback(self, service: str, revision: int | None = None) -> dict[str, Any]:
        body: dict[str, Any] = {} if revision is None else {"revision": revision}
        return self._request("POST", f"/services/{service}/rollback", json=body)

    def get_config(self, service: str) -> dict[str, Any]:
        return self._request("GET", f"/services/{service}/config")

    def get_readiness(self, service: str, revision: int | None = None) -> dict[str, Any]:
        params = {} if revision is None else {"revision": revision}
        return self._request("GET", f"/services/{service}/readiness", params=params)

    def wait_ready(
        self, service: str, revision: int | None, timeout: float, interval: float = 1.0
    ) -> dict[str, Any]:
        """Poll until the revision is no longer ``pending``/``failed`` (the fallback acts on ``failed``)."""
        deadline = time.monotonic() + timeout
        readiness = self.get_readiness(service, revision)
        revision = readiness["revision"]  # the live one when none was given: keep asking about that one
        while readiness.get("state") in UNSETTLED_READINESS and time.monotonic() < deadline:
            time.sleep(interval)
            readiness = self.get_readiness(service, revision)
        return readiness

    # -- rollouts ---------------------------------------------------------------------------------

    def start_rollout(self, service: str, body: dict[str, Any]) -> dict[str, Any]:
        return self._request("POST", f"/services/{service}/rollouts", json=body)

    def list_rollouts(self, service: str) -> dict[str, Any]:
        return self._request("GET", f"/services/{service}/rollouts")

    def get_rollout(self, service: str, rollout_id: int) -> dict[str, Any]:
        return self._request("GET", f"/services/{service}/rollouts/{rollout_id}")

    def rollout_action(self, service: str, rollout_id: int, action: str) -> dict[str, Any]:
        """``pause``, ``resume`` or ``abort``."""
        return self._request("POST", f"/services/{service}/rollouts/{rollout_id}/{action}")
