"""Artifacts are only used once their sha256 matches, and each is downloaded once per machine."""

from __future__ import annotations

from pathlib import Path

import httpx
import msgspec
import pytest

from contracts.config import ServiceConfig
from model_runner.artifacts import ArtifactError, fetch_artifact, foreign_artifacts_problem
from tests.model_runner.factories import SavedModel


def test_file_url_is_cached_under_its_hash(iris_classifier: SavedModel, tmp_path: Path) -> None:
    spec = iris_classifier.spec("skops")

    path = fetch_artifact(spec, cache_dir=tmp_path, token="t")

    assert path == tmp_path / spec.sha256
    assert path.read_bytes() == iris_classifier.path.read_bytes()


def test_sha256_mismatch_is_refused_and_nothing_is_kept(iris_classifier: SavedModel, tmp_path: Path) -> None:
    spec = iris_classifier.spec("skops", sha256="0" * 64)

    with pytest.raises(ArtifactError, match="sha256 mismatch"):
        fetch_artifact(spec, cache_dir=tmp_path, token="t")
    assert list(tmp_path.iterdir()) == []


def test_cached_file_is_reused_without_fetching(iris_classifier: SavedModel, tmp_path: Path) -> None:
    spec = iris_classifier.spec("skops")
    fetch_artifact(spec, cache_dir=tmp_path, token="t")
    gone = spec.__class__(**{**_fields(spec), "artifact_url": (tmp_path / "gone").as_uri()})

    assert fetch_artifact(gone, cache_dir=tmp_path, token="t") == tmp_path / spec.sha256


def test_corrupt_cache_file_is_fetched_again(iris_classifier: SavedModel, tmp_path: Path) -> None:
    spec = iris_classifier.spec("skops")
    (tmp_path / spec.sha256).write_bytes(b"truncated")

    path = fetch_artifact(spec, cache_dir=tmp_path, token="t")

    assert path.read_bytes() == iris_classifier.path.read_bytes()


def test_http_asks_for_a_signed_url_with_the_pool_token_then_downloads_without_it(
    iris_classifier: SavedModel, tmp_path: Path
) -> None:
    seen: list[tuple[str, str, str | None]] = []
    signed = "http://cp.test/api/v1/internal/artifacts/abc?signature=f00"

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append((request.method, str(request.url), request.headers.get("Authorization")))
        if request.method == "POST":
            return httpx.Response(200, json={"url": signed, "expires_at": 1})
        return httpx.Response(200, content=iris_classifier.path.read_bytes())

    spec = iris_classifier.spec("skops", artifact_url="http://cp.test/api/v1/internal/grant")
    with httpx.Client(transport=httpx.MockTransport(handler)) as client:
        path = fetch_artifact(spec, cache_dir=tmp_path, token="rdvpool.default.f00", client=client)

    assert seen == [
        ("POST", "http://cp.test/api/v1/internal/grant", "Bearer rdvpool.default.f00"),
        ("GET", signed, None),
    ]
    assert path.read_bytes() == iris_classifier.path.read_bytes()


def test_a_refused_grant_is_reported(iris_classifier: SavedModel, tmp_path: Path) -> None:
    spec = iris_classifier.spec("skops", artifact_url="http://cp.test/a")
    answer = {"error": "forbidden", "detail": "not deployed to pool 'x'"}
    transport = httpx.MockTransport(lambda _request: httpx.Response(403, json=answer))
    with httpx.Client(transport=transport) as client, pytest.raises(ArtifactError, match="answered 403: .*pool 'x'"):
        fetch_artifact(spec, cache_dir=tmp_path, token="wrong", client=client)


def test_a_failed_download_is_reported_without_its_signature(iris_classifier: SavedModel, tmp_path: Path) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.method == "POST":
            return httpx.Response(200, json={"url": "http://cp.test/dl?signature=secret", "expires_at": 1})
        return httpx.Response(403)

    spec = iris_classifier.spec("skops", artifact_url="http://cp.test/a")
    with httpx.Client(transport=httpx.MockTransport(handler)) as client, pytest.raises(ArtifactError) as caught:
        fetch_artifact(spec, cache_dir=tmp_path, token="t", client=client)
    assert str(caught.value) == "GET http://cp.test/dl answered 403"


@pytest.mark.parametrize("answer", [{"nothing": 1}, {"url": "file:///etc/passwd"}, {"url": 7}])
def test_a_grant_without_a_usable_url_is_refused(answer: object, iris_classifier: SavedModel, tmp_path: Path) -> None:
    spec = iris_classifier.spec("skops", artifact_url="http://cp.test/a")
    transport = httpx.MockTransport(lambda _request: httpx.Response(200, json=answer))
    with httpx.Client(transport=transport) as client, pytest.raises(ArtifactError, match="URL"):
        fetch_artifact(spec, cache_dir=tmp_path, token="t", client=client)


@pytest.mark.parametrize(
    "grant_url",
    [
        "http://evil.test/api/v1/internal/grant",
        "https://cp.test/api/v1/internal/grant",
        "http://cp.test:8001/api/v1/internal/grant",
        "http://cp.test/other/grant",
    ],
)
def test_the_pool_token_goes_only_under_the_control_plane_url(
    grant_url: str, iris_classifier: SavedModel, tmp_path: Path
) -> None:
    """A snapshot naming another host (or scheme, port, path) gets no token: nothing is even sent."""
    sent: list[str] = []
    transport = httpx.MockTransport(lambda request: sent.append(str(request.url)) or httpx.Response(500))
    spec = iris_classifier.spec("skops", artifact_url=grant_url)
    with httpx.Client(transport=transport) as client, pytest.raises(ArtifactError, match="refusing to send"):
        fetch_artifact(spec, cache_dir=tmp_path, token="t", control_plane_url="http://cp.test/api", client=client)
    assert sent == []


def _fields(spec: object) -> dict[str, object]:
    return {name: getattr(spec, name) for name in spec.__struct_fields__}  # type: ignore[attr-defined]


def test_a_runner_follows_only_the_services_its_own_control_plane_grants(iris_classifier: SavedModel) -> None:
    own = "http://cp.internal:8000"
    spec = iris_classifier.spec("skops")

    def service(url: str) -> ServiceConfig:
        deployment = msgspec.structs.replace(spec, artifact_url=url)
        return ServiceConfig(tenant="t", service="s", revision=1, deadline_ms=100, partitions=1,
                             deployments=(deployment,))

    assert foreign_artifacts_problem(service(f"{own}/api/v1/internal/x/artifact-url"), control_plane_url=own) is None
    assert foreign_artifacts_problem(service(spec.artifact_url), control_plane_url=own) is None  # file://, tests
    for elsewhere in ("http://attacker:8000/api/v1/internal/x", "https://cp.internal:8000/api/v1/x",
                      "http://cp.internal:8001/api/v1/x"):
        problem = foreign_artifacts_problem(service(elsewhere), control_plane_url=own)
        assert problem is not None and "not by this runner's RDV_PUBLIC_URL" in problem, elsewhere
