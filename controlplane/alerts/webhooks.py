"""Where an alert may be sent, and sending it.

A webhook URL is a tenant's input and the control plane sends from inside the platform's network: a
URL naming a loopback, private, link-local (cloud metadata), multicast or reserved address would let a
tenant reach what only the platform should (server-side request forgery). Such addresses are refused
when the URL is set **and** again when it is sent to, on the addresses the name resolves to then, and
the connection goes to the address that was checked (a name that re-resolves elsewhere in between
changes nothing). Hosts in ``RDV_ALERT_WEBHOOK_ALLOWED_HOSTS`` skip the address check (an operator's
own receiver on the internal network, the tests' loopback one). Redirects are not followed.
"""

from __future__ import annotations

import hashlib
import hmac
import http.client
import ipaddress
import json
import socket
import ssl
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

Resolver = Callable[[str, int], list[str]]


class WebhookRefused(ValueError):
    """The URL may not be used; the message says why."""


@dataclass(frozen=True, slots=True)
class Target:
    scheme: str
    host: str
    port: int
    path: str
    address: str  # the checked IP the connection goes to


def system_resolver(host: str, port: int) -> list[str]:
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise WebhookRefused(f"cannot resolve {host!r}: {exc.strerror}") from exc
    return sorted({str(info[4][0]) for info in infos})


def _forbidden(address: str) -> str | None:
    ip = ipaddress.ip_address(address)
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    for name, hit in (
        # The specific names first: Python counts loopback, link-local and 0.0.0.0/8 as private too.
        ("loopback", ip.is_loopback),
        ("link-local", ip.is_link_local),
        ("unspecified", ip.is_unspecified),
        ("multicast", ip.is_multicast),
        ("reserved", ip.is_reserved),
        ("private", ip.is_private),
    ):
        if hit:
            return name
    return None


def webhook_target(url: str, *, allowed_hosts: Collection[str], resolve: Resolver = system_resolver) -> Target:
    """Check ``url`` and pick the address to connect to; raises ``WebhookRefused`` with the reason."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise WebhookRefused("a webhook URL is http:// or https://")
    if parts.username or parts.password:
        raise WebhookRefused("a webhook URL carries no user or password")
    host = (parts.hostname or "").lower()
    if not host:
        raise WebhookRefused("a webhook URL names a host")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError as exc:
        raise WebhookRefused(f"bad port: {exc}") from exc
    addresses = resolve(host, port)
    if not addresses:
        raise WebhookRefused(f"{host!r} resolves to no address")
    if host not in {h.lower() for h in allowed_hosts}:
        for address in addresses:
            reason = _forbidden(address)
            if reason is not None:
                raise WebhookRefused(f"{host!r} resolves to a {reason} address ({address}); not allowed")
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    return Target(parts.scheme, host, port, path, addresses[0])


def signature(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def webhook_send(
    url: str,
    payload: Mapping[str, Any],
    *,
    secret: str,
    timeout_s: float,
    allowed_hosts: Collection[str],
    resolve: Resolver = system_resolver,
) -> int:
    """POST ``payload`` as JSON to the checked address; answers the HTTP status (raises on no answer)."""
    target = webhook_target(url, allowed_hosts=allowed_hosts, resolve=resolve)
    body = json.dumps(payload, sort_keys=True).encode()
    sock = socket.create_connection((target.address, target.port), timeout=timeout_s)
    conn: http.client.HTTPConnection
    if target.scheme == "https":
        sock = ssl.create_default_context().wrap_socket(sock, server_hostname=target.host)
        conn = http.client.HTTPSConnection(target.host, target.port, timeout=timeout_s)
    else:
        conn = http.client.HTTPConnection(target.host, target.port, timeout=timeout_s)
    conn.sock = sock  # already connected to the checked address: request() does not connect again
    try:
        conn.request(
            "POST",
            target.path,
            body=body,
            headers={
                "Content-Type": "application/json",
                "User-Agent": "rendezvous-alerts/1",
                "X-Rendezvous-Signature": signature(secret, body),
            },
        )
        response = conn.getresponse()
        response.read(65536)
        return response.status
    finally:
        conn.close()
