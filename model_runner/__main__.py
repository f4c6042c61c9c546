"""``python -m model_runner``: host this pool's model versions and score every request they get."""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
import time
from types import FrameType

from contracts.kafka import make_admin, make_consumer, make_producer
from contracts.topology import platform_topics
from model_runner.artifacts import fetch_artifact, foreign_artifacts_problem
from model_runner.canary import window_settings_from_env
from model_runner.hosting import HostedModels
from model_runner.loading import LoadedModel, load_model, warm_imports
from model_runner.loop import RunnerLoop
from model_runner.settings import RunnerSettings, SettingsError
from model_runner.side_loop import start_side_loops
from model_runner.state import InternalState
from model_runner.status import runner_status_reporter
from streaming.follower import ConfigFollower

log = logging.getLogger("model_runner")


def main() -> int:
    logging.basicConfig(
        level=os.environ.get("RDV_LOG_LEVEL", "INFO").upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        settings = RunnerSettings.from_env()
        drift_windows = window_settings_from_env()
    except SettingsError as exc:
        print(f"model_runner: {exc}", file=sys.stderr)
        return 2

    stop = threading.Event()

    def request_stop(signum: int, _frame: FrameType | None) -> None:
        log.info("signal %d: stopping after the current batch", signum)
        stop.set()

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)

    admin = make_admin(settings.kafka)
    admin.ensure_topics(platform_topics())

    # Only the services of this runner's own control plane (model_runner.artifacts).
    follower = ConfigFollower(
        settings.kafka,
        refuse=lambda config: foreign_artifacts_problem(config, control_plane_url=settings.control_plane_url),
    ).start()
    while not follower.wait_ready(0.5):
        if stop.is_set():
            follower.stop()
            return 0

    def loader(spec) -> LoadedModel:  # type: ignore[no-untyped-def]
        started = time.perf_counter()
        path = fetch_artifact(
            spec, cache_dir=settings.artifact_cache, token=settings.token, control_plane_url=settings.control_plane_url
        )
        fetch_ms = (time.perf_counter() - started) * 1000
        model = load_model(spec, path, trusted=settings.trusted)
        model.fetch_ms = fetch_ms
        return model

    hosting = HostedModels(settings.pool, loader, memory_budget_bytes=int(settings.model_memory_mb * 2**20))
    hosting.warm_up(warm_imports)
    consumer = make_consumer(settings.kafka, group_id=settings.group_id, assignor="range")
    producer = make_producer(settings.kafka)
    state = InternalState(settings.redis_url, timeout_s=settings.state_timeout_ms / 1000)
    loop = RunnerLoop(
        settings,
        consumer=consumer,
        producer=producer,
        admin=admin,
        follower=follower,
        hosting=hosting,
        state=state,
        status=runner_status_reporter(settings, producer, hosting),
    )

    # The decoy and the canary's drift monitor: consumer groups of their own, next to the scoring loop.
    side_failed = threading.Event()
    side_threads = start_side_loops(settings, follower, drift_windows, stop, side_failed)

    def ready() -> None:
        trust = " (trusted)" if settings.trusted else ""
        print(f"[runner {settings.runner_id}] pool={settings.pool}{trust} ready", flush=True)

    try:
        loop.run(stop, on_ready=ready)
    finally:
        stop.set()
        for thread in side_threads:
            thread.join(timeout=15.0)
        # The consumer first: closing it may revoke partitions, whose callback flushes the producer.
        consumer.close()
        producer.close()
        follower.stop()
        hosting.close()
        state.close()
        admin.close()
        log.info("stopped; stats %s", loop.stats)
    return 1 if side_failed.is_set() else 0


if __name__ == "__main__":
    sys.exit(main())
