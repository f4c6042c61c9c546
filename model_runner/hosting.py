"""The set of model versions this runner hosts, kept in step with the live config.

Loading (download + deserialise) runs on background threads so a new deployment never stalls
scoring of the versions already serving. A version that fails to load stays recorded with its error
until the config changes it: it answers error scores instead of being retried in a tight loop.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Literal

from contracts.config import DeploymentSpec, ServiceConfig
from contracts.roles import SCORING_ROLES
from model_runner.loading import LoadedModel

log = logging.getLogger(__name__)

ServiceKey = tuple[str, str]
# A tenant's model versions are shared by its services; the hash makes a re-uploaded artifact new.
VersionKey = tuple[str, str, int, str]
Loader = Callable[[DeploymentSpec], LoadedModel]
VersionState = Literal["loading", "ready", "failed"]


def version_key(tenant: str, spec: DeploymentSpec) -> VersionKey:
    return (tenant, spec.model, spec.version, spec.sha256.lower())


@dataclass(eq=False)
class HostedVersion:
    key: VersionKey
    spec: DeploymentSpec
    state: VersionState = "loading"
    model: LoadedModel | None = None
    error: str | None = None
    loaded_at: float = field(default=0.0)


class HostedModels:
    def __init__(self, pool: str, loader: Loader, *, load_threads: int = 2) -> None:
        self.pool = pool
        self._loader = loader
        self._lock = threading.Lock()
        self._routes: dict[ServiceKey, tuple[DeploymentSpec, ...]] = {}
        self._versions: dict[VersionKey, HostedVersion] = {}
        self._executor = ThreadPoolExecutor(max_workers=load_threads, thread_name_prefix="model-load")

    def routed_services(self) -> dict[ServiceKey, tuple[DeploymentSpec, ...]]:
        """Services with at least one scoring deployment in this pool, and those deployments."""
        return dict(self._routes)

    def deployments(self, tenant: str, service: str) -> tuple[DeploymentSpec, ...]:
        return self._routes.get((tenant, service), ())

    def version(self, tenant: str, spec: DeploymentSpec) -> HostedVersion | None:
        return self._versions.get(version_key(tenant, spec))

    def sync(self, services: Mapping[ServiceKey, ServiceConfig]) -> None:
        """Adopt the config: start loading new versions, drop the ones nothing references any more."""
        routes: dict[ServiceKey, tuple[DeploymentSpec, ...]] = {}
        for service_key, config in services.items():
            scoring = tuple(d for d in config.in_pool(self.pool) if d.role in SCORING_ROLES)
            if scoring:
                routes[service_key] = scoring
        wanted = {version_key(t, spec): spec for (t, _s), specs in routes.items() for spec in specs}
        with self._lock:
            self._routes = routes
            versions = dict(self._versions)
            for key in versions.keys() - wanted.keys():
                gone = versions.pop(key)
                log.info("unloaded %s/%s v%d (%s)", key[0], key[1], key[2], gone.state)
            for key in wanted.keys() - versions.keys():
                hosted = HostedVersion(key=key, spec=wanted[key])
                versions[key] = hosted
                self._executor.submit(self._load, hosted)
            self._versions = versions

    def _load(self, hosted: HostedVersion) -> None:
        tenant, model, version, _sha = hosted.key
        started = time.perf_counter()
        try:
            loaded = self._loader(hosted.spec)
        except Exception as exc:  # any failure is this version's, not the runner's
            hosted.error = f"model failed to load: {exc}"
            hosted.state = "failed"
            log.error("failed to load %s/%s v%d: %s", tenant, model, version, exc)
            return
        hosted.model = loaded
        hosted.loaded_at = time.time()
        hosted.state = "ready"
        still_wanted = self._versions.get(hosted.key) is hosted
        log.info(
            "loaded %s/%s v%d (%s) in %.1f ms%s",
            tenant,
            model,
            version,
            hosted.spec.format,
            (time.perf_counter() - started) * 1000,
            "" if still_wanted else " (no longer deployed, dropped)",
        )

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)
