"""Artifacts are only used once their sha256 matches, and each is downloaded once per machine."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from model_runner.artifacts import ArtifactError, fetch_artifact
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


def test_http_download_sends_the_runner_token(iris_classifier: SavedModel, tmp_path: Path) -> None:
    seen: list[str | None] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.headers.get("Authorization"))
        return httpx.Response(200, content=iris_classifier.path.read_bytes())

    spec = iris_classifier.spec("skops", artifact_url="http://cp.test/api/v1/artifacts/1")
    with httpx.Client(transport=httpx.MockTransport(handler)) as client:
        path = fetch_artifact(spec, cache_dir=tmp_path, token="secret", client=client)

    assert seen == ["Bearer secret"]
    assert path.read_bytes() == iris_classifier.path.read_bytes()


def test_http_error_status_is_reported(iris_classifier: SavedModel, tmp_path: Path) -> None:
    spec = iris_classifier.spec("skops", artifact_url="http://cp.test/a")
    transport = httpx.MockTransport(lambda _request: httpx.Response(401))
    with httpx.Client(transport=transport) as client, pytest.raises(ArtifactError, match="answered 401"):
        fetch_artifact(spec, cache_dir=tmp_path, token="wrong", client=client)


def _fields(spec: object) -> dict[str, object]:
    return {name: getattr(spec, name) for name in spec.__struct_fields__}  # type: ignore[attr-defined]
