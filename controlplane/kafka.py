"""The control plane's Kafka clients, through the contract adapter only (never a client library).

One producer per process, created on first use: creating a producer costs a broker connection and
its metadata round-trips, which a request that publishes a snapshot should not pay every time.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence

from django.conf import settings

from contracts.kafka import KafkaError, Producer, TopicSpec, make_admin, make_producer
from contracts.topology import platform_topics

log = logging.getLogger(__name__)

_lock = threading.Lock()
_producer: Producer | None = None
_platform_topics_ready = False


def get_producer() -> Producer:
    global _producer
    with _lock:
        if _producer is None:
            _producer = make_producer(settings.RDV_KAFKA)
        return _producer


def close_producer() -> None:
    """Flush and drop the shared producer (tests, and processes that fork after using it)."""
    global _producer
    with _lock:
        if _producer is not None:
            _producer.flush(5.0)
            _producer.close()
            _producer = None


def topics_ensure(topics: Sequence[TopicSpec]) -> list[str]:
    """Create the missing topics; returns the names created (existing ones are left as they are)."""
    admin = make_admin(settings.RDV_KAFKA)
    try:
        return admin.ensure_topics(list(topics))
    except KafkaError:
        raise
    except Exception as exc:
        # Some backend paths (metadata look-ups) still leak the client library's own exception type;
        # callers only know KafkaError, so normalise here rather than import the library above the adapter.
        raise KafkaError(f"{type(exc).__name__}: {exc}") from exc
    finally:
        admin.close()


def platform_topics_ensure() -> list[str]:
    """``rdv.config`` must be compacted, so create it explicitly before a broker auto-creates it wrong."""
    global _platform_topics_ready
    if _platform_topics_ready:
        return []
    created = topics_ensure(platform_topics())
    _platform_topics_ready = True
    return created
