"""How a snapshot on the compacted ``rdv.config`` topic changes a process's view of every service.

Pure: ``streaming.follower.ConfigFollower`` reads the topic and applies each record with ``apply_record``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from contracts.codec import DecodeError, decode
from contracts.config import ServiceConfig
from contracts.keys import ServiceKey

log = logging.getLogger(__name__)

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


@dataclass(frozen=True, slots=True)
class Applied:
    services: Mapping[ServiceKey, ServiceConfig]
    key: ServiceKey
    config: ServiceConfig | None  # None: the service is gone (deleted or refused)


def apply_record(
    services: Mapping[ServiceKey, ServiceConfig],
    key: bytes | None,
    value: bytes | None,
    refuse: SnapshotFilter | None = None,
) -> Applied | None:
    """The view after one ``rdv.config`` record (a new mapping: readers of the old one are unaffected),
    or None when the record changes nothing (no key, unreadable, an older revision arriving late)."""
    if key is None:
        log.warning("config record without key ignored")
        return None
    tenant, _, service = key.decode("utf-8", "replace").partition("/")
    service_key = ServiceKey(tenant, service)
    updated = dict(services)
    if value is None:
        updated.pop(service_key, None)
        return Applied(updated, service_key, None)
    try:
        config = decode(ServiceConfig, value)
    except DecodeError as exc:
        log.error("config record for %s ignored: %s", service_key, exc)
        return None
    held = updated.get(service_key)
    if held is not None and snapshot_is_stale(config, held):
        log.warning(
            "config revision %d of %s arrived after revision %d and is ignored",
            config.revision,
            service_key,
            held.revision,
        )
        return None
    refused = refuse(config) if refuse is not None else None
    if refused is not None:
        log.error("config revision %d of %s not followed: %s", config.revision, service_key, refused)
        updated.pop(service_key, None)
        return Applied(updated, service_key, None)
    updated[service_key] = config
    return Applied(updated, service_key, config)
