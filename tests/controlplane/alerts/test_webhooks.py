"""A tenant's webhook URL must not reach inside the platform's network (SSRF), and a sent body is signed."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest

from controlplane.alerts.webhooks import WebhookRefused, webhook_send, webhook_target


def resolver_to(*addresses: str):  # noqa: ANN201
    return lambda host, port: list(addresses)


@pytest.mark.parametrize(
    ("address", "why"),
    [
        ("127.0.0.1", "loopback"),
        ("::1", "loopback"),
        ("10.1.2.3", "private"),
        ("192.168.0.10", "private"),
        ("172.16.5.5", "private"),
        ("169.254.169.254", "link-local"),  # cloud metadata
        ("::ffff:127.0.0.1", "loopback"),  # IPv4-mapped IPv6
        ("0.0.0.0", "unspecified"),
        ("224.0.0.1", "multicast"),
    ],
)
def test_an_internal_address_is_refused(address: str, why: str) -> None:
    with pytest.raises(WebhookRefused, match=why):
        webhook_target("https://hooks.example.com/x", allowed_hosts=(), resolve=resolver_to(address))


def test_one_internal_address_among_public_ones_is_enough_to_refuse() -> None:
    with pytest.raises(WebhookRefused, match="private"):
        webhook_target("https://h.example.com/", allowed_hosts=(), resolve=resolver_to("93.184.216.34", "10.0.0.1"))


def test_localhost_by_name_is_refused_with_the_real_resolver() -> None:
    with pytest.raises(WebhookRefused, match="loopback"):
        webhook_target("http://localhost:8000/hook", allowed_hosts=())


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("ftp://example.com/x", "http"),
        ("file:///etc/passwd", "http"),
        ("http://user:pw@example.com/", "user or password"),
        ("http:///nohost", "names a host"),
        ("http://example.com:99999/", "port"),
    ],
)
def test_a_malformed_url_is_refused(url: str, why: str) -> None:
    with pytest.raises(WebhookRefused, match=why):
        webhook_target(url, allowed_hosts=(), resolve=resolver_to("93.184.216.34"))


def test_a_public_address_is_the_one_connected_to() -> None:
    target = webhook_target("https://Hooks.Example.com/a?b=1", allowed_hosts=(), resolve=resolver_to("93.184.216.34"))

    assert (target.host, target.port, target.path, target.address) == (
        "hooks.example.com",
        443,
        "/a?b=1",
        "93.184.216.34",
    )


def test_an_allowed_host_skips_the_address_check() -> None:
    target = webhook_target(
        "http://receiver.internal:9000/", allowed_hosts=("receiver.internal",), resolve=resolver_to("10.0.0.7")
    )

    assert target.address == "10.0.0.7"


class _Receiver(BaseHTTPRequestHandler):
    received: list[tuple[str, dict[str, str], bytes]] = []
    answer = 204

    def do_POST(self) -> None:  # noqa: N802
        body = self.rfile.read(int(self.headers["Content-Length"]))
        type(self).received.append((self.path, dict(self.headers), body))
        self.send_response(type(self).answer)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def receiver() -> Iterator[tuple[int, type[_Receiver]]]:
    handler = type("Receiver", (_Receiver,), {"received": [], "answer": 204})
    server = HTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1], handler
    server.shutdown()
    server.server_close()


def test_the_body_is_posted_with_its_signature(receiver: tuple[int, type[_Receiver]]) -> None:
    port, handler = receiver

    status = webhook_send(
        f"http://localhost:{port}/hook?x=1",
        {"state": "firing", "value": 2.5},
        secret="s3cret",
        timeout_s=5,
        allowed_hosts=("localhost",),
    )

    assert status == 204
    [(path, headers, body)] = handler.received
    assert path == "/hook?x=1" and json.loads(body) == {"state": "firing", "value": 2.5}
    expected = "sha256=" + hmac.new(b"s3cret", body, hashlib.sha256).hexdigest()
    assert headers["X-Rendezvous-Signature"] == expected


def test_sending_to_a_loopback_receiver_not_allowed_is_refused_before_connecting(
    receiver: tuple[int, type[_Receiver]],
) -> None:
    port, handler = receiver

    with pytest.raises(WebhookRefused, match="loopback"):
        webhook_send(f"http://localhost:{port}/hook", {"x": 1}, secret="s", timeout_s=5, allowed_hosts=())

    assert handler.received == []
