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
from contracts.provenance import RepliesPartitions
from contracts.settings_catalog import read_str
from contracts.topology import platform_topics
from model_runner.artifacts import fetch_artifact, foreign_artifacts_problem
from model_runner.canary import canary_settings_from_env
from model_runner.hosting import HostedModels
from model_runner.loading import LoadedModel, load_model, warm_imports
from model_runner.loop import ScoringStep
from model_runner.metrics import runner_registry, scoring_metrics
from model_runner.settings import RunnerSettings, SettingsError
from model_runner.side_loop import start_side_loops
from model_runner.state import InternalState
from model_runner.status import runner_status_reporter
from streaming import LoopSettings, StreamLoop, collector
from streaming.exporter import LoopCollector, serve_metrics
from streaming.follower import ConfigFollower
from streaming.health import HealthFile

log = logging.getLogger("model_runner")

# Commits are cheap (no flush): once a second keeps a crash's re-scoring to about a second of requests.
COMMIT_INTERVAL_S = 1.0


def main() -> int:
    logging.basicConfig(
        level=read_str(os.environ, "RDV_LOG_LEVEL").upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        settings = RunnerSettings.from_env()
        canary = canary_settings_from_env()
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
    producer = make_producer(settings.kafka)
    state = InternalState(settings.redis_url, timeout_s=settings.state_timeout_ms / 1000)
    replies = RepliesPartitions(admin.partition_count)
    replies.count()  # read the metadata now, not on the first request's hot path
    requests = scoring_metrics() if settings.metrics_port is not None else None
    scoring = ScoringStep(
        settings,
        hosting=hosting,
        replies=replies,
        state=state,
        status=runner_status_reporter(settings, producer, hosting),
        requests=requests,
    )

    def ready() -> None:
        trust = " (trusted)" if settings.trusted else ""
        print(f"[runner {settings.runner_id}] pool={settings.pool}{trust} ready", flush=True)

    collector.tune()  # after the warm-up imports: what is loaded now stays out of the collector's sight
    # A liveness probe reads it: rewritten every few seconds by the scoring loop, with every loop's state.
    health_file = None
    if settings.health_file is not None:
        health_file = HealthFile(settings.health_file, identity={"runner": settings.runner_id, "pool": settings.pool})
        health_file.add("config", follower.health)
    loop = StreamLoop(
        scoring,
        consumer=make_consumer(settings.kafka, group_id=settings.group_id, assignor="range"),
        producer=producer,
        admin=admin,
        config=follower,
        settings=LoopSettings(max_batch=settings.max_batch, commit_interval_s=COMMIT_INTERVAL_S),
        on_ready=ready,
        health_file=health_file,
    )

    loops = None
    if requests is not None and settings.metrics_port is not None:
        loops = LoopCollector()
        loops.add(loop.name, loop.metrics)
        port = serve_metrics(
            runner_registry(hosting, requests, loops), port=settings.metrics_port, address=settings.metrics_addr
        )
        log.info("Prometheus metrics on %s:%d/metrics", settings.metrics_addr, port)

    # The decoy and the canary's drift monitor: consumer groups of their own, next to the scoring loop.
    side_failed = threading.Event()
    side_threads = start_side_loops(settings, follower, canary, stop, side_failed, health_file, loops)

    failed = False
    try:
        loop.run(stop)
    except Exception:
        # e.g. FollowerFailed: stop (and be restarted) rather than score by a config nobody follows.
        log.exception("scoring loop failed; stopping the runner")
        failed = True
    finally:
        stop.set()
        for thread in side_threads:
            thread.join(timeout=15.0)
        follower.stop()
        hosting.close()
        state.close()
        log.info("stopped; stats %s", scoring.stats)
    return 1 if failed or side_failed.is_set() else 0


if __name__ == "__main__":
    sys.exit(main())
