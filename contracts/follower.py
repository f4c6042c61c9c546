"""Follows the compacted ``rdv.config`` topic: every worker's live view of every service.

On start it reads the topic from the beginning and is ``ready`` once it has caught up with the high
watermark; after that it keeps following. Each service's snapshot is applied atomically by replacing
the whole mapping (copy on write), so readers on other threads never see a half-applied change.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping

from contracts.codec import DecodeError, decode
from contracts.config import ServiceConfig
from contracts.kafka import BEGINNING, Consumer, KafkaSettings, TopicPartition, make_consumer
from contracts.topics import CONFIG_TOPIC

log = logging.getLogger(__name__)

ServiceKey = tuple[str, str]
ChangeListener = Callable[[ServiceKey, ServiceConfig | None], None]
# Why a process must not follow a snapshot (None: it may). A snapshot refused is applied as a removal.
SnapshotFilter = Callable[[ServiceConfig], str | None]


def snapshot_is_stale(incoming: ServiceConfig, held: ServiceConfig) -> bool:
    """Whether ``incoming`` is an older revision that reached the topic after ``held``.

    Publishers in different processes (the API, Celery tasks, the republish sweep) each have their own
    producer, so a snapshot that waited in one producer's retries can land after a newer one. It is
    older when both its revision and its build time are lower: a service deleted and created again
    under the same slug restarts at revision 1 with a newer build time, and is taken.
    """
    return incoming.revision < held.revision and incoming.published_at < held.published_at


class ConfigFollower:
    def __init__(
        self,
        settings: KafkaSettings,
        *,
        on_change: ChangeListener | None = None,
        refuse: SnapshotFilter | None = None,
    ) -> None:
        self._settings = settings
        self._on_change = on_change
        self._refuse = refuse
        self._services: Mapping[ServiceKey, ServiceConfig] = {}
        self._ready = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="config-follower", daemon=True)
        # Bumped on every applied change; loops compare it to notice changes cheaply.
        self.generation = 0

    @property
    def services(self) -> Mapping[ServiceKey, ServiceConfig]:
        return self._services

    def get(self, tenant: str, service: str) -> ServiceConfig | None:
        return self._services.get((tenant, service))

    def start(self) -> ConfigFollower:
        self._thread.start()
        return self

    def wait_ready(self, timeout: float = 30.0) -> bool:
        return self._ready.wait(timeout)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5.0)

    def _run(self) -> None:
        consumer = make_consumer(self._settings, group_id=None)
        try:
            consumer.assign([TopicPartition(CONFIG_TOPIC, 0, BEGINNING)])
            high = self._high_watermark(consumer)
            if high == 0:
                self._ready.set()
            while not self._stop.is_set():
                record = consumer.poll(0.2)
                if record is not None:
                    self._apply(record.key, record.value)
                    if not self._ready.is_set() and record.offset + 1 >= high:
                        self._ready.set()
                elif not self._ready.is_set() and consumer.position(CONFIG_TOPIC, 0) >= high:
                    self._ready.set()
        except Exception:
            log.exception("config follower stopped")
            raise
        finally:
            consumer.close()

    @staticmethod
    def _high_watermark(consumer: Consumer) -> int:
        deadline = time.monotonic() + 30.0
        while True:
            try:
                return consumer.watermarks(CONFIG_TOPIC, 0)[1]
            except Exception:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)

    def _apply(self, key: bytes | None, value: bytes | None) -> None:
        if key is None:
            log.warning("config record without key ignored")
            return
        tenant, _, service = key.decode("utf-8", "replace").partition("/")
        service_key = (tenant, service)
        updated = dict(self._services)
        config: ServiceConfig | None
        if value is None:
            config = None
            updated.pop(service_key, None)
        else:
            try:
                config = decode(ServiceConfig, value)
            except DecodeError as exc:
                log.error("config record for %s/%s ignored: %s", tenant, service, exc)
                return
            held = updated.get(service_key)
            if held is not None and snapshot_is_stale(config, held):
                log.warning(
                    "config revision %d of %s/%s arrived after revision %d and is ignored",
                    config.revision, tenant, service, held.revision,
                )
                return
            refused = self._refuse(config) if self._refuse is not None else None
            if refused is None:
                updated[service_key] = config
            else:
                log.error("config revision %d of %s/%s not followed: %s", config.revision, tenant, service, refused)
                updated.pop(service_key, None)
                config = None
        self._services = updated
        self.generation += 1
        if self._on_change is not None:
            self._on_change(service_key, config)
