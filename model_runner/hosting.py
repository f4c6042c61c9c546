"""The set of model versions this runner hosts, kept in step with the live config.

Loading (download + deserialise) runs on background threads so a new deployment never stalls
scoring of the versions already serving. A version that fails to load stays recorded with its error
until the config changes it: it answers error scores instead of being retried in a tight loop.

Many versions per runner: the versions that may answer (champions, and the fallbacks and canaries
the rendezvous turns to when a champion fails, so they must not be cold then) are loaded as soon as
the config names them and are never evicted; challengers, which are only logged, load on their first
request (``acquire``). Each loaded version's resident size is measured (``model_runner.footprint``);
when the loaded total exceeds the memory budget, the least recently used challengers are unloaded
(``model_runner.lru``) and load again on their next request.
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
from contracts.keys import HostedKey, ServiceKey
from contracts.roles import ANSWERING_ROLES, SCORING_ROLES
from model_runner.footprint import deep_size
from model_runner.loading import LoadedModel
from model_runner.lru import Resident, evictions

log = logging.getLogger(__name__)

# A tenant's model versions are shared by its services; the hash makes a re-uploaded artifact new.
Loader = Callable[[DeploymentSpec], LoadedModel]
VersionState = Literal["unloaded", "loading", "ready", "failed"]
DEFAULT_MEMORY_BUDGET_BYTES = 1024 * 1024 * 1024
# How long a version loaded for waiting requests is protected from eviction if nobody comes to use it.
FRESH_PROTECTION_S = 30.0


def version_key(tenant: str, spec: DeploymentSpec) -> HostedKey:
    return HostedKey(tenant, spec.model, spec.version, spec.sha256.lower())


@dataclass(eq=False)
class HostedVersion:
    key: HostedKey
    spec: DeploymentSpec
    state: VersionState = "unloaded"
    model: LoadedModel | None = None
    error: str | None = None
    loaded_at: float = field(default=0.0)
    # May answer somewhere (champion, fallback, canary): loaded with the config and never evicted.
    pinned: bool = False
    # Measured at each load: the model's object graph (footprint.deep_size) and the load's duration.
    resident_bytes: int = 0
    load_ms: float = 0.0
    loads: int = 0
    last_used: float = 0.0
    # Loaded for requests that wait for it and not used since: evicting it now would only repeat the load.
    fresh: bool = False


class HostedModels:
    def __init__(
        self,
        pool: str,
        loader: Loader,
        *,
        load_threads: int = 2,
        memory_budget_bytes: int = DEFAULT_MEMORY_BUDGET_BYTES,
    ) -> None:
        self.pool = pool
        self.memory_budget_bytes = memory_budget_bytes
        self._loader = loader
        self._lock = threading.Lock()
        self._routes: dict[ServiceKey, tuple[DeploymentSpec, ...]] = {}
        self._versions: dict[HostedKey, HostedVersion] = {}
        self._executor = ThreadPoolExecutor(max_workers=load_threads, thread_name_prefix="model-load")
        self._warmed = threading.Event()
        self._warmed.set()
        self.evictions = 0

    def warm_up(self, function: Callable[[], None]) -> None:
        """Run ``function`` (e.g. library imports) on a loading thread; every load waits for it to end.

        Two threads importing scikit-learn's modules for the first time at once can each meet the other's
        half-initialised module ("cannot import name 'BaseLibSVM' from partially initialized module"), which
        failed a champion's load: so no load starts its imports while the warm-up still runs its own.
        """
        self._warmed.clear()

        def run() -> None:
            try:
                function()
            except Exception:  # a load will meet the same problem and report it as its own
                log.exception("warming up the model libraries failed")
            finally:
                self._warmed.set()

        self._executor.submit(run)

    def routed_services(self) -> dict[ServiceKey, tuple[DeploymentSpec, ...]]:
        """Services with at least one scoring deployment in this pool, and those deployments."""
        return dict(self._routes)

    def deployments(self, tenant: str, service: str) -> tuple[DeploymentSpec, ...]:
        return self._routes.get((tenant, service), ())

    def version(self, tenant: str, spec: DeploymentSpec) -> HostedVersion | None:
        return self._versions.get(version_key(tenant, spec))

    def versions(self) -> list[HostedVersion]:
        return list(self._versions.values())

    def acquire(self, tenant: str, spec: DeploymentSpec) -> HostedVersion | None:
        """The hosted version about to score: marked used, and loading started if it is not loaded.

        Callers read ``hosted.model`` once: an eviction may clear it at any moment, and a model object
        already read stays valid for the call that holds it.
        """
        hosted = self._versions.get(version_key(tenant, spec))
        if hosted is None:
            return None
        hosted.last_used = time.monotonic()
        if hosted.model is not None:
            if hosted.fresh:
                # Its waiting requests are served now: the budget may have been held over for it.
                hosted.fresh = False
                with self._lock:
                    evicted = self._evict_over_budget(keep=hosted.key)
                self._log_evicted(evicted)
        elif hosted.state == "unloaded":
            with self._lock:
                if hosted.state == "unloaded" and self._versions.get(hosted.key) is hosted:
                    self._start_load(hosted)
        return hosted

    def resident_bytes(self) -> int:
        return sum(v.resident_bytes for v in self._versions.values() if v.model is not None)

    def sync(self, services: Mapping[ServiceKey, ServiceConfig]) -> None:
        """Adopt the config: start loading new versions, drop the ones nothing references any more."""
        routes: dict[ServiceKey, tuple[DeploymentSpec, ...]] = {}
        for service_key, config in services.items():
            scoring = tuple(d for d in config.in_pool(self.pool) if d.role in SCORING_ROLES)
            if scoring:
                routes[service_key] = scoring
        wanted = {version_key(t, spec): spec for (t, _s), specs in routes.items() for spec in specs}
        answering = {
            version_key(t, spec) for (t, _s), specs in routes.items() for spec in specs if spec.role in ANSWERING_ROLES
        }
        with self._lock:
            self._routes = routes
            versions = dict(self._versions)
            for key in versions.keys() - wanted.keys():
                gone = versions.pop(key)
                gone.model = None
                log.info("unloaded %s/%s v%d (%s)", key[0], key[1], key[2], gone.state)
            for key in wanted.keys() - versions.keys():
                versions[key] = HostedVersion(key=key, spec=wanted[key])
            self._versions = versions
            for key, hosted in versions.items():
                hosted.pinned = key in answering
                if hosted.pinned and hosted.state == "unloaded":
                    self._start_load(hosted)

    def _start_load(self, hosted: HostedVersion) -> None:
        """Under the lock: one load at a time per version, on the loading threads."""
        hosted.state = "loading"
        self._executor.submit(self._load, hosted)

    def _load(self, hosted: HostedVersion) -> None:
        tenant, model, version, _sha = hosted.key
        self._warmed.wait()
        started = time.perf_counter()
        try:
            loaded = self._loader(hosted.spec)
            load_ms = (time.perf_counter() - started) * 1000
            resident = deep_size(loaded) + getattr(loaded, "native_bytes", 0)
        except Exception as exc:  # any failure is this version's, not the runner's
            hosted.error = f"model failed to load: {exc}"
            hosted.state = "failed"
            log.error("failed to load %s/%s v%d: %s", tenant, model, version, exc)
            return
        with self._lock:
            still_wanted = self._versions.get(hosted.key) is hosted
            if still_wanted:
                hosted.model = loaded
                hosted.resident_bytes = resident
                hosted.load_ms = load_ms
                hosted.loads += 1
                hosted.loaded_at = time.time()
                hosted.last_used = time.monotonic()
                hosted.fresh = True
            hosted.state = "ready" if still_wanted else "unloaded"
            evicted = self._evict_over_budget(keep=hosted.key) if still_wanted else []
        log.info(
            "loaded %s/%s v%d (%s) in %.1f ms (fetch %.1f ms), %d bytes resident%s",
            tenant,
            model,
            version,
            hosted.spec.format,
            load_ms,
            getattr(loaded, "fetch_ms", 0.0),
            resident,
            "" if still_wanted else " (no longer deployed, dropped)",
        )
        self._log_evicted(evicted)

    def _log_evicted(self, evicted: list[HostedVersion]) -> None:
        for gone in evicted:
            log.info(
                "evicted %s/%s v%d (%d bytes, over the %g MB budget); it loads again on its next request",
                gone.key[0], gone.key[1], gone.key[2], gone.resident_bytes, round(self.memory_budget_bytes / 2**20, 3),
            )

    def _evict_over_budget(self, *, keep: HostedKey) -> list[HostedVersion]:
        """Under the lock: unload least recently used versions until the loaded ones fit the budget."""
        loaded = {key: v for key, v in self._versions.items() if v.state == "ready" and v.model is not None}
        recent = time.monotonic() - FRESH_PROTECTION_S
        residents = [
            Resident(key, v.resident_bytes, v.last_used, pinned=v.pinned or key == keep or _waited_for(v, recent))
            for key, v in loaded.items()
        ]
        chosen = [loaded[key] for key in evictions(residents, budget_bytes=self.memory_budget_bytes)]
        for hosted in chosen:
            hosted.state = "unloaded"  # first, so a reader that finds no model knows to wait for a load
            hosted.model = None
        self.evictions += len(chosen)
        return chosen

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)


def _waited_for(hosted: HostedVersion, recent: float) -> bool:
    return hosted.fresh and hosted.last_used >= recent
