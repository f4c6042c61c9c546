"""rdvctl: argument parsing, the requests it sends and its exit codes, against httpx.MockTransport."""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from rdvctl import cli
from rdvctl.cli import EXIT_OK, EXIT_PENDING, EXIT_REFUSED, EXIT_SERVER, EXIT_USAGE, main

BASE = ["--url", "http://cp.test", "--token", "tok-1", "--tenant", "acme"]
PREFIX = "/api/v1/tenants/acme"

Handler = Callable[[httpx.Request], httpx.Response]


class Recorder:
    """A MockTransport that answers by (method, path) and keeps every request it saw."""

    def __init__(self, routes: dict[tuple[str, str], Any]) -> None:
        self.routes = routes
        self.requests: list[httpx.Request] = []
        self.transport = httpx.MockTransport(self.handle)

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        answer = self.routes.get((request.method, request.url.path))
        if answer is None:
            return httpx.Response(404, json={"error": "not_found", "detail": "no route in the test"})
        if callable(answer):
            return answer(request)
        return answer


def run(argv: list[str], recorder: Recorder | None = None) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(argv, transport=recorder.transport if recorder else None, out=out, err=err)
    return code, out.getvalue(), err.getvalue()


@pytest.fixture(autouse=True)
def _no_rdv_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("RDV_URL", "RDV_TOKEN", "RDV_TENANT"):
        monkeypatch.delenv(name, raising=False)


# -- parsing and usage errors --------------------------------------------------------------------


def test_missing_connection_settings_is_a_usage_error() -> None:
    code, out, err = run(["status", "svc"])
    assert code == EXIT_USAGE
    assert "--url, --token, --tenant" in err
    assert out == ""


def test_unknown_command_and_missing_argument_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert run([*BASE, "explode"])[0] == EXIT_USAGE
    assert run([*BASE, "promote", "svc", "m"])[0] == EXIT_USAGE
    assert run([*BASE, "promote", "svc", "m", "not-a-number"])[0] == EXIT_USAGE
    assert run([*BASE, "push", "m", "a.skops"])[0] == EXIT_USAGE  # --format is required
    assert "invalid int value" in capsys.readouterr().err


def test_help_exits_0() -> None:
    assert run(["--help"])[0] == EXIT_OK


def test_connection_settings_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RDV_URL", "http://env.test/")
    monkeypatch.setenv("RDV_TOKEN", "env-token")
    monkeypatch.setenv("RDV_TENANT", "envco")
    rec = Recorder({("GET", "/api/v1/tenants/envco/services/svc/config"): httpx.Response(200, json={"revision": 1})})
    code, out, _ = run(["status", "svc"], rec)
    assert code == EXIT_OK
    assert json.loads(out) == {"revision": 1}
    assert str(rec.requests[0].url) == "http://env.test/api/v1/tenants/envco/services/svc/config"
    assert rec.requests[0].headers["Authorization"] == "Bearer env-token"


def test_flags_override_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RDV_TENANT", "envco")
    args = cli.build_parser().parse_args([*BASE, "rollback", "svc"])
    assert args.tenant == "acme"
    assert args.revision is None


@pytest.mark.parametrize(
    ("value", "expected"),
    [('{"features": ["a", "b"]}', {"features": ["a", "b"]}), ("  {}", {})],
)
def test_metadata_inline_json(value: str, expected: dict[str, Any]) -> None:
    assert cli.load_metadata(value) == expected


def test_metadata_from_a_file(tmp_path: Path) -> None:
    path = tmp_path / "meta.json"
    path.write_text('{"example": {"a": 1}}')
    assert cli.load_metadata(str(path)) == {"example": {"a": 1}}


@pytest.mark.parametrize("value", ["[1, 2]", "{not json", "/nowhere/meta.json"])
def test_bad_metadata_is_a_usage_error(tmp_path: Path, value: str) -> None:
    artifact = tmp_path / "m.skops"
    artifact.write_bytes(b"x")
    rec = Recorder({})
    code, _, err = run([*BASE, "push", "m", str(artifact), "--format", "skops", "--metadata", value], rec)
    assert code == EXIT_USAGE
    assert "--metadata" in err
    assert rec.requests == []  # nothing was uploaded


def test_missing_artifact_is_a_usage_error(tmp_path: Path) -> None:
    rec = Recorder({})
    code, _, err = run([*BASE, "push", "m", str(tmp_path / "nope.skops"), "--format", "skops"], rec)
    assert code == EXIT_USAGE
    assert "is not a file" in err
    assert rec.requests == []


# -- push ----------------------------------------------------------------------------------------


def _artifact(tmp_path: Path) -> Path:
    path = tmp_path / "model.skops"
    path.write_bytes(b"ARTIFACT-BYTES")
    return path


def test_push_uploads_multipart_and_exits_0_when_ready(tmp_path: Path) -> None:
    def upload(request: httpx.Request) -> httpx.Response:
        body = request.read()
        assert request.headers["content-type"].startswith("multipart/form-data")
        assert b'name="artifact"; filename="model.skops"' in body
        assert b"ARTIFACT-BYTES" in body
        assert b'name="format"\r\n\r\nskops' in body
        assert b'name="metadata"\r\n\r\n{"features": ["x"]}' in body
        return httpx.Response(
            201,
            json={"version": 7, "status": "ready", "sha256": "ab", "format": "skops", "metadata": {}, "report": {}},
        )

    rec = Recorder({("POST", f"{PREFIX}/models/churn/versions"): upload})
    argv = [*BASE, "push", "churn", str(_artifact(tmp_path)), "--format", "skops", "--metadata", '{"features": ["x"]}']
    code, out, err = run(argv, rec)
    assert code == EXIT_OK, err
    assert json.loads(out) == {"version": 7, "status": "ready"}
    assert len(rec.requests) == 1
    assert rec.requests[0].headers["Authorization"] == "Bearer tok-1"


def test_push_failed_validation_exits_3_with_the_report_on_stderr(tmp_path: Path) -> None:
    report = "error while loading the artifact: skops file refused: untrusted types acme.Custom"
    rec = Recorder(
        {
            ("POST", f"{PREFIX}/models/churn/versions"): httpx.Response(
                201, json={"version": 8, "status": "failed", "report": report}
            )
        }
    )
    code, out, err = run([*BASE, "push", "churn", str(_artifact(tmp_path)), "--format", "skops"], rec)
    assert code == EXIT_REFUSED
    assert json.loads(out) == {"version": 8, "status": "failed"}
    assert "version 8 failed validation" in err
    assert "untrusted types acme.Custom" in err


def test_push_polls_a_pending_version_until_ready_showing_progress(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("rdvctl.client.time.sleep", lambda _s: None)
    states = iter(["validating", "ready"])
    rec = Recorder(
        {
            ("POST", f"{PREFIX}/models/churn/versions"): httpx.Response(
                201, json={"version": 9, "status": "validating"}
            ),
            ("GET", f"{PREFIX}/models/churn/versions/9"): lambda _r: httpx.Response(
                200, json={"version": 9, "status": next(states)}
            ),
        }
    )
    code, out, err = run([*BASE, "push", "churn", str(_artifact(tmp_path)), "--format", "onnx", "--wait", "30"], rec)
    assert code == EXIT_OK
    assert json.loads(out) == {"version": 9, "status": "ready"}
    assert [r.method for r in rec.requests] == ["POST", "GET", "GET"]
    assert "rdvctl: churn v9: validating (0 s)" in err and "rdvctl: churn v9: ready" in err


def test_push_failing_after_a_wait_exits_3_with_the_report(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("rdvctl.client.time.sleep", lambda _s: None)
    rec = Recorder(
        {
            ("POST", f"{PREFIX}/models/churn/versions"): httpx.Response(
                201, json={"version": 3, "status": "validating"}
            ),
            ("GET", f"{PREFIX}/models/churn/versions/3"): httpx.Response(
                200, json={"version": 3, "status": "failed", "report": "memory limit: loading needed more"}
            ),
        }
    )
    argv = [*BASE, "push", "churn", str(_artifact(tmp_path)), "--format", "skops", "--wait"]  # bare --wait
    code, out, err = run(argv, rec)
    assert code == EXIT_REFUSED
    assert json.loads(out) == {"version": 3, "status": "failed"}
    assert "memory limit: loading needed more" in err


def test_push_still_pending_when_the_wait_runs_out_exits_5(tmp_path: Path) -> None:
    pending = {"version": 9, "status": "validating"}
    rec = Recorder(
        {
            ("POST", f"{PREFIX}/models/churn/versions"): httpx.Response(201, json=pending),
            ("GET", f"{PREFIX}/models/churn/versions/9"): httpx.Response(200, json=pending),
        }
    )
    code, _, err = run([*BASE, "push", "churn", str(_artifact(tmp_path)), "--format", "onnx", "--wait", "0.2"], rec)
    assert code == EXIT_PENDING
    assert "still validating after 0.2s" in err


def test_push_no_wait_answers_after_the_upload(tmp_path: Path) -> None:
    rec = Recorder(
        {("POST", f"{PREFIX}/models/churn/versions"): httpx.Response(201, json={"version": 9, "status": "validating"})}
    )
    code, out, _ = run([*BASE, "push", "churn", str(_artifact(tmp_path)), "--format", "onnx", "--no-wait"], rec)
    assert code == EXIT_OK
    assert json.loads(out) == {"version": 9, "status": "validating"}
    assert len(rec.requests) == 1


def test_push_too_large_is_refused_with_the_server_message(tmp_path: Path) -> None:
    rec = Recorder(
        {
            ("POST", f"{PREFIX}/models/churn/versions"): httpx.Response(
                413, json={"error": "too_large", "detail": "artifact above 100 MB"}
            )
        }
    )
    code, out, err = run([*BASE, "push", "churn", str(_artifact(tmp_path)), "--format", "skops"], rec)
    assert code == EXIT_REFUSED
    assert out == ""
    assert "413 too_large: artifact above 100 MB" in err


# -- routing ---------------------------------------------------------------------------------------


CHAMPION = {"model": "churn", "version": 3, "role": "champion", "weight": 100, "rank": 0, "pool": "default"}


def test_stage_adds_a_challenger_and_keeps_the_rest() -> None:
    def put(request: httpx.Request) -> httpx.Response:
        assert json.loads(request.content) == {
            "deployments": [CHAMPION, {"model": "churn", "version": 7, "role": "challenger"}]
        }
        return httpx.Response(200, json={"revision": 12})

    rec = Recorder(
        {
            ("GET", f"{PREFIX}/services/web/deployments"): httpx.Response(
                200, json={"revision": 11, "deployments": [CHAMPION]}
            ),
            ("PUT", f"{PREFIX}/services/web/deployments"): put,
        }
    )
    code, out, err = run([*BASE, "stage", "web", "churn", "7"], rec)
    assert code == EXIT_OK, err
    assert out.strip() == "12"
    assert [r.method for r in rec.requests] == ["GET", "PUT"]


def test_stage_replaces_an_existing_entry_of_that_version() -> None:
    shadow = {"model": "churn", "version": 7, "role": "shadow", "weight": 100, "rank": 0, "pool": "default"}
    assert cli.staged([CHAMPION, shadow], "churn", 7) == [
        CHAMPION,
        {"model": "churn", "version": 7, "role": "challenger"},
    ]


def test_stage_on_an_empty_service() -> None:
    rec = Recorder(
        {
            ("GET", f"{PREFIX}/services/web/deployments"): httpx.Response(
                200, json={"revision": None, "deployments": []}
            ),
            ("PUT", f"{PREFIX}/services/web/deployments"): httpx.Response(200, json={"revision": 1}),
        }
    )
    code, out, _ = run([*BASE, "stage", "web", "churn", "1"], rec)
    assert code == EXIT_OK
    assert out.strip() == "1"
    assert json.loads(rec.requests[1].content)["deployments"] == [
        {"model": "churn", "version": 1, "role": "challenger"}
    ]


def test_stage_of_a_version_not_ready_exits_3() -> None:
    rec = Recorder(
        {
            ("GET", f"{PREFIX}/services/web/deployments"): httpx.Response(200, json={"revision": 2, "deployments": []}),
            ("PUT", f"{PREFIX}/services/web/deployments"): httpx.Response(
                409, json={"error": "conflict", "detail": "churn v7 is not ready"}
            ),
        }
    )
    code, _, err = run([*BASE, "stage", "web", "churn", "7"], rec)
    assert code == EXIT_REFUSED
    assert "churn v7 is not ready" in err


def test_promote_sends_model_and_version() -> None:
    rec = Recorder({("POST", f"{PREFIX}/services/web/promote"): httpx.Response(200, json={"revision": 13})})
    code, out, _ = run([*BASE, "promote", "web", "churn", "7"], rec)
    assert code == EXIT_OK
    assert out.strip() == "13"
    assert json.loads(rec.requests[0].content) == {"model": "churn", "version": 7}


@pytest.mark.parametrize(("extra", "body"), [([], {}), (["--revision", "4"], {"revision": 4})])
def test_rollback_sends_the_optional_revision(extra: list[str], body: dict[str, int]) -> None:
    rec = Recorder(
        {("POST", f"{PREFIX}/services/web/rollback"): httpx.Response(200, json={"revision": 14, "restored_from": 4})}
    )
    code, out, _ = run([*BASE, "rollback", "web", *extra], rec)
    assert code == EXIT_OK
    assert out.strip() == "14"
    assert json.loads(rec.requests[0].content) == body


def test_status_prints_the_live_config() -> None:
    config = {"revision": 5, "actor": "ci", "snapshot": {"deployments": [CHAMPION]}}
    rec = Recorder({("GET", f"{PREFIX}/services/web/config"): httpx.Response(200, json=config)})
    code, out, _ = run([*BASE, "status", "web"], rec)
    assert code == EXIT_OK
    assert json.loads(out) == config


def test_url_with_api_prefix_is_not_doubled() -> None:
    rec = Recorder({("GET", f"{PREFIX}/services/web/config"): httpx.Response(200, json={"revision": 1})})
    argv = ["--url", "http://cp.test/api/v1/", "--token", "t", "--tenant", "acme", "status", "web"]
    assert run(argv, rec)[0] == EXIT_OK


# -- exit-code mapping -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("response", "expected_code", "message"),
    [
        (httpx.Response(401, json={"error": "not_authenticated", "detail": "bad token"}), EXIT_REFUSED, "bad token"),
        (httpx.Response(403, json={"error": "forbidden", "detail": "needs scope deploy"}), EXIT_REFUSED, "scope"),
        (httpx.Response(404, json={"error": "not_found", "detail": "no service 'web'"}), EXIT_REFUSED, "no service"),
        (
            httpx.Response(400, json={"error": "invalid", "detail": {"version": ["must be >= 1"]}}),
            EXIT_REFUSED,
            "version: must be >= 1",
        ),
        (httpx.Response(429, text="slow down"), EXIT_REFUSED, "429 http_error: slow down"),
        (httpx.Response(500, text="<html>boom</html>"), EXIT_SERVER, "server error 500"),
        (httpx.Response(503, json={"error": "stream_unavailable", "detail": "kafka down"}), EXIT_SERVER, "kafka down"),
        (httpx.Response(200, text="not json"), EXIT_SERVER, "without JSON"),
    ],
)
def test_http_status_maps_to_exit_code(response: httpx.Response, expected_code: int, message: str) -> None:
    rec = Recorder({("POST", f"{PREFIX}/services/web/promote"): response})
    code, out, err = run([*BASE, "promote", "web", "churn", "7"], rec)
    assert code == expected_code
    assert message in err
    assert out == ""


def test_connection_refused_exits_4() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("Connection refused", request=request)

    code, _, err = run([*BASE, "status", "web"], Recorder({("GET", f"{PREFIX}/services/web/config"): refuse}))
    assert code == EXIT_SERVER
    assert "cannot reach" in err and "Connection refused" in err


def test_real_connection_refused_exits_4() -> None:
    # Port 9 on localhost (discard) is closed in the sandbox; no transport override: a real socket error.
    code, _, err = run(
        ["--url", "http://127.0.0.1:9", "--token", "t", "--tenant", "acme", "--timeout", "2", "status", "w"]
    )
    assert code == EXIT_SERVER
    assert "cannot reach" in err
