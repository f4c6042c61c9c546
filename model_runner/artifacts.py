"""Artifact download with a content-addressed disk cache.

Files are stored as ``<cache>/<sha256>`` so two services (or two restarts) sharing a version download
it once, and a file is only ever trusted after its hash matched the one the control plane recorded.

An ``http(s)`` ``artifact_url`` is the control plane's grant endpoint (DESIGN.md §6, *Artifact
access*): the runner POSTs its pool token there and gets a signed URL valid about a minute, which it
downloads with no credential. The pool token never travels to the download URL.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlparse
from urllib.request import url2pathname

import httpx

from contracts.config import DeploymentSpec, ServiceConfig

log = logging.getLogger(__name__)

_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_CHUNK = 1 << 20


class ArtifactError(RuntimeError):
    """The artifact could not be fetched or is not the file the control plane registered."""


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def fetch_artifact(
    spec: DeploymentSpec,
    *,
    cache_dir: Path,
    token: str,
    control_plane_url: str | None = None,
    client: httpx.Client | None = None,
    timeout: float = 60.0,
) -> Path:
    """The local path of the verified artifact, downloading it only when the cache lacks it.

    With ``control_plane_url`` the pool token is only ever sent to a grant URL under it: whoever could
    slip a snapshot into ``rdv.config`` would otherwise collect the token at a URL of their choosing.
    """
    expected = spec.sha256.lower()
    if not _SHA256.match(expected):
        raise ArtifactError(f"{spec.model} v{spec.version}: sha256 {spec.sha256!r} is not 64 hex digits")
    cache_dir.mkdir(parents=True, exist_ok=True)
    target = cache_dir / expected
    if target.exists():
        if file_sha256(target) == expected:
            return target
        log.warning("cached artifact %s is corrupt; fetching it again", target)
        target.unlink(missing_ok=True)
    partial = cache_dir / f".{expected}.{uuid.uuid4().hex}.part"
    try:
        digest = hashlib.sha256()
        with partial.open("wb") as out:
            chunks = _chunks(
                spec.artifact_url, token=token, control_plane_url=control_plane_url, client=client, timeout=timeout
            )
            for chunk in chunks:
                digest.update(chunk)
                out.write(chunk)
        actual = digest.hexdigest()
        if actual != expected:
            raise ArtifactError(
                f"{spec.model} v{spec.version}: sha256 mismatch for {spec.artifact_url}: "
                f"expected {expected}, got {actual}"
            )
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)
    return target


def _chunks(
    url: str, *, token: str, control_plane_url: str | None, client: httpx.Client | None, timeout: float
) -> Iterator[bytes]:
    scheme = urlparse(url).scheme
    if scheme == "file":
        path = Path(url2pathname(urlparse(url).path))
        try:
            with path.open("rb") as handle:
                while chunk := handle.read(_CHUNK):
                    yield chunk
        except OSError as exc:
            raise ArtifactError(f"cannot read {url}: {exc}") from exc
        return
    if scheme not in ("http", "https"):
        raise ArtifactError(f"unsupported artifact URL scheme {scheme!r} in {url}")
    if control_plane_url and not _under(url, control_plane_url):
        raise ArtifactError(f"refusing to send the pool token to {url}: not under RDV_PUBLIC_URL {control_plane_url}")
    owned = client is None
    # No redirects: the pool token must only ever be sent to the grant URL itself.
    http = client or httpx.Client(timeout=timeout, follow_redirects=False)
    try:
        signed = _signed_url(http, url, token=token)
        with http.stream("GET", signed) as response:
            if response.status_code != 200:
                raise ArtifactError(f"GET {_without_query(signed)} answered {response.status_code}")
            yield from response.iter_bytes(_CHUNK)
    except httpx.HTTPError as exc:
        raise ArtifactError(f"fetching {url} failed: {exc}") from exc
    finally:
        if owned:
            http.close()


def foreign_artifacts_problem(config: ServiceConfig, *, control_plane_url: str | None) -> str | None:
    """Why a runner must not follow a service: one of its artifacts is granted by another control plane.

    A runner serves the services of its own control plane only (``RDV_PUBLIC_URL``): it would refuse to
    send its pool token elsewhere anyway, and following such a service would subscribe it to topics
    whose partitions its pool's group then shares with the runners that can serve them.
    """
    if not control_plane_url:
        return None
    for deployment in config.deployments:
        url = deployment.artifact_url
        if urlparse(url).scheme in ("http", "https") and not _under(url, control_plane_url):
            return (
                f"{deployment.model} v{deployment.version}'s artifact is granted by {_without_query(url)}, "
                f"not by this runner's RDV_PUBLIC_URL {control_plane_url}"
            )
    return None


def _signed_url(http: httpx.Client, grant_url: str, *, token: str) -> str:
    """Ask the control plane for a short-lived signed download URL (403: the pool does not serve it)."""
    response = http.post(grant_url, headers={"Authorization": f"Bearer {token}"})
    if response.status_code != 200:
        raise ArtifactError(f"POST {grant_url} answered {response.status_code}: {response.text[:300]}")
    try:
        signed = response.json()["url"]
    except (ValueError, KeyError, TypeError) as exc:
        raise ArtifactError(f"POST {grant_url} answered no signed URL: {response.text[:300]}") from exc
    if not isinstance(signed, str) or urlparse(signed).scheme not in ("http", "https"):
        raise ArtifactError(f"POST {grant_url} answered an unusable URL {signed!r}")
    return signed


def _under(url: str, base: str) -> bool:
    """Same scheme, host and port as ``base``, and a path below its path."""
    target, root = urlparse(url), urlparse(base)
    same_origin = (target.scheme, target.netloc.lower()) == (root.scheme, root.netloc.lower())
    return same_origin and target.path.startswith(root.path.rstrip("/") + "/")


def _without_query(url: str) -> str:
    """The URL without its signature, for logs and error messages."""
    return urlparse(url)._replace(query="").geturl()
