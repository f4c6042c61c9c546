"""The config follower's death is never silent (issue 15, acceptance 2): once its thread dies, ``check``
raises in whoever reads the config, and a ``StreamLoop`` following that config stops with the reason."""

from __future__ import annotations

import threading
import time
import uuid

import pytest

import streaming.follower as follower_module
from contracts.kafka import KafkaSettings, make_admin, make_consumer, make_producer
from contracts.topics import CONFIG_TOPIC, config_key
from contracts.topology import platform_topics
from streaming import LoopSettings, Step, StreamLoop
from streaming.follower import ConfigFollower, FollowerFailed
from tests.kafka_auth import kafka_settings


@pytest.fixture(params=["confluent", "kafka-python"])
def settings(request: pytest.FixtureRequest, kafka_bootstrap: str) -> KafkaSettings:
    settings = kafka_settings(kafka_bootstrap, request.param)
    admin = make_admin(settings)
    admin.ensure_topics(platform_topics())
    admin.close()
    return settings


class Idle(Step):
    name = "idle"


def test_a_follower_thread_that_dies_fails_check_and_stops_the_loops_on_its_config(
    settings: KafkaSettings, monkeypatch: pytest.MonkeyPatch
) -> None:
    follower = ConfigFollower(settings).start()
    assert follower.wait_ready(30)
    follower.check()  # following: nothing to say
    loop = StreamLoop(
        Idle(),
        consumer=make_consumer(settings, group_id=f"rdv-runner-fd-{uuid.uuid4().hex[:8]}"),
        producer=make_producer(settings),
        config=follower,
        settings=LoopSettings(max_wait_s=0.05),
    )
    stop = threading.Event()
    failure: list[BaseException] = []

    def run() -> None:
        try:
            loop.run(stop)
        except BaseException as exc:  # noqa: BLE001 - reported below
            failure.append(exc)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    try:
        time.sleep(0.5)
        assert thread.is_alive() and loop.health.alive()

        # The next config record kills the follower's thread (a tombstone of a service nobody has:
        # harmless to the other followers on this broker).
        def broken(*_args: object, **_kwargs: object) -> None:
            raise RuntimeError("the follower thread was killed by the test")

        monkeypatch.setattr(follower_module, "apply_record", broken)
        producer = make_producer(settings)
        producer.produce(CONFIG_TOPIC, None, key=config_key(f"t-{uuid.uuid4().hex[:8]}", "gone").encode())
        assert producer.flush(10) == 0
        producer.close()

        thread.join(15.0)
        assert not thread.is_alive(), "the loop kept running on a config nobody follows"
        assert failure and isinstance(failure[0], FollowerFailed), failure
        assert "killed by the test" in str(failure[0]) and "stale" in str(failure[0])
        assert not loop.health.alive() and loop.health.failure is not None
        with pytest.raises(FollowerFailed, match="no longer followed"):
            follower.check()
        assert follower.health()["failure"] is not None
    finally:
        stop.set()
        thread.join(10.0)
        follower.stop()
