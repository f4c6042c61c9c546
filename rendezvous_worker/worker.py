"""One rendezvous instance: the rendezvous step (rendezvous_worker.step) on the streaming runtime,
following the config; several instances share the partitions of one consumer group."""

from __future__ import annotations

import logging
import threading

from contracts.kafka import make_admin, make_consumer, make_producer
from contracts.provenance import RepliesPartitions
from contracts.status import StatusReporter
from contracts.topology import platform_topics
from rendezvous_worker.metrics import RendezvousMetrics
from rendezvous_worker.rendezvous import Rendezvous
from rendezvous_worker.settings import WorkerSettings
from rendezvous_worker.step import RendezvousStep
from streaming import LoopSettings, StreamLoop
from streaming.exporter import LoopCollector, serve_metrics
from streaming.follower import ConfigFollower
from streaming.health import HealthFile

log = logging.getLogger(__name__)


class RendezvousWorker:
    def __init__(self, settings: WorkerSettings) -> None:
        self._settings = settings
        self._stop = threading.Event()
        self._follower = ConfigFollower(settings.kafka)

    def stop(self) -> None:
        self._stop.set()

    def run(self) -> None:
        settings = self._settings
        admin = make_admin(settings.kafka)
        admin.ensure_topics(platform_topics())
        # Kept open: a request naming a reply partition past the cached count re-reads the metadata.
        replies = RepliesPartitions(admin.partition_count)
        replies.count()
        self._follower.start()
        try:
            if not self._follower.wait_ready(60):
                raise SystemExit("rendezvous worker: could not read rdv.config within 60 s")
            producer = make_producer(settings.kafka)
            status = StatusReporter(
                producer, worker=settings.instance_id, kind="rendezvous", interval_s=settings.status_interval_s
            )
            rendezvous = Rendezvous(
                self._follower.get, orphan_ttl_s=settings.orphan_ttl_s, stale_after_s=settings.stale_after_s
            )
            health_file = None
            if settings.health_file is not None:
                health_file = HealthFile(settings.health_file, identity={"rendezvous": settings.instance_id})
                health_file.add("config", self._follower.health)
            metrics = RendezvousMetrics() if settings.metrics_port is not None else None
            loop = StreamLoop(
                RendezvousStep(rendezvous, replies, status, metrics),
                consumer=make_consumer(
                    settings.kafka,
                    group_id=settings.group_id,
                    assignor="range",
                    session_timeout_ms=settings.session_timeout_ms,
                ),
                producer=producer,
                admin=admin,
                config=self._follower,
                # Deadlines are timers: they run between slices of a batch (the timer rule, DESIGN.md §4).
                settings=LoopSettings(commit_interval_s=settings.commit_interval_s, timer_slice=64),
                on_ready=lambda: print(f"[rendezvous {settings.instance_id}] ready", flush=True),
                health_file=health_file,
            )
            if metrics is not None and settings.metrics_port is not None:
                loops = LoopCollector()
                loops.add(loop.name, loop.metrics)
                port = serve_metrics(metrics.registry(loops), port=settings.metrics_port, address=settings.metrics_addr)
                log.info("Prometheus metrics on %s:%d/metrics", settings.metrics_addr, port)
            loop.run(self._stop)
        finally:
            self._follower.stop()
