"""The config follower against the real broker: it applies every service's newest snapshot, and
ignores an older revision that reached the topic late."""

from __future__ import annotations

import time
import uuid

import pytest

from contracts import ServiceConfig, config_key, encode
from contracts.follower import snapshot_is_stale
from contracts.kafka import KafkaSettings, make_admin, make_producer
from contracts.topics import CONFIG_TOPIC
from contracts.topology import platform_topics
from streaming.follower import ConfigFollower
from tests.kafka_auth import kafka_settings


def _config(tenant: str, revision: int, published_at: float, deadline_ms: int = 100) -> ServiceConfig:
    return ServiceConfig(
        tenant=tenant, service="svc", revision=revision, deadline_ms=deadline_ms, partitions=1,
        published_at=published_at,
    )


@pytest.mark.parametrize(
    ("incoming", "held", "stale"),
    [
        ((3, 30.0), (4, 40.0), True),  # an older revision delivered late
        ((4, 40.0), (4, 40.0), False),  # the same revision sent again (the republish sweep)
        ((5, 50.0), (4, 40.0), False),  # the next revision
        ((1, 60.0), (4, 40.0), False),  # the service was deleted and created again under its slug
        ((1, 0.0), (4, 0.0), False),  # hand-made snapshots without a build time are always taken
    ],
)
def test_a_snapshot_is_stale_only_when_both_revision_and_build_time_are_older(
    incoming: tuple[int, float], held: tuple[int, float], stale: bool
) -> None:
    assert snapshot_is_stale(_config("t", *incoming), _config("t", *held)) is stale


@pytest.fixture(params=["confluent", "kafka-python"])
def settings(request: pytest.FixtureRequest, kafka_bootstrap: str) -> KafkaSettings:
    settings = kafka_settings(kafka_bootstrap, request.param)
    admin = make_admin(settings)
    admin.ensure_topics(platform_topics())
    admin.close()
    return settings


def _wait(follower: ConfigFollower, tenant: str, predicate, timeout: float = 15.0) -> ServiceConfig | None:  # noqa: ANN001
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        config = follower.get(tenant, "svc")
        if config is not None and predicate(config):
            return config
        time.sleep(0.05)
    return follower.get(tenant, "svc")


def test_the_follower_keeps_the_newest_snapshot_when_an_older_one_arrives_late(settings: KafkaSettings) -> None:
    tenant = f"t{uuid.uuid4().hex[:8]}"
    key = config_key(tenant, "svc").encode()
    producer = make_producer(settings)
    follower = ConfigFollower(settings).start()
    try:
        assert follower.wait_ready(30)
        now = time.time()
        producer.produce(CONFIG_TOPIC, encode(_config(tenant, 2, now, deadline_ms=200)), key=key)
        producer.produce(CONFIG_TOPIC, encode(_config(tenant, 1, now - 1, deadline_ms=100)), key=key)
        # A marker after both: once it is applied, the late revision 1 has been read too.
        marker = config_key(f"{tenant}m", "svc").encode()
        producer.produce(CONFIG_TOPIC, encode(_config(f"{tenant}m", 1, now)), key=marker)
        producer.flush(10)
        assert _wait(follower, f"{tenant}m", lambda c: True) is not None

        held = follower.get(tenant, "svc")
        assert held is not None and (held.revision, held.deadline_ms) == (2, 200)

        producer.produce(CONFIG_TOPIC, encode(_config(tenant, 3, now + 1, deadline_ms=300)), key=key)
        producer.flush(10)
        newest = _wait(follower, tenant, lambda c: c.revision == 3)
        assert newest is not None and newest.deadline_ms == 300
    finally:
        follower.stop()
        producer.close()


def test_a_refused_snapshot_is_not_followed_and_withdraws_the_one_held(settings: KafkaSettings) -> None:
    """A process may refuse snapshots (a runner: another control plane's): refused is as good as deleted."""
    tenant = f"t{uuid.uuid4().hex[:8]}"
    key = config_key(tenant, "svc").encode()
    producer = make_producer(settings)
    changes: list[tuple[tuple[str, str], ServiceConfig | None]] = []
    follower = ConfigFollower(
        settings,
        on_change=lambda service, config: changes.append((service, config)),
        refuse=lambda config: "deadline 999 is refused" if config.deadline_ms == 999 else None,
    ).start()
    try:
        assert follower.wait_ready(30)
        now = time.time()
        producer.produce(CONFIG_TOPIC, encode(_config(tenant, 1, now, deadline_ms=200)), key=key)
        producer.flush(10)
        assert _wait(follower, tenant, lambda c: c.revision == 1) is not None

        producer.produce(CONFIG_TOPIC, encode(_config(tenant, 2, now + 1, deadline_ms=999)), key=key)
        marker = config_key(f"{tenant}m", "svc").encode()
        producer.produce(CONFIG_TOPIC, encode(_config(f"{tenant}m", 1, now)), key=marker)
        producer.flush(10)
        assert _wait(follower, f"{tenant}m", lambda c: True) is not None

        assert follower.get(tenant, "svc") is None
        assert ((tenant, "svc"), None) in changes
    finally:
        follower.stop()
        producer.close()
