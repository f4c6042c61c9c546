"""The steps shared by the runner's side consumers (decoy, canary): own group, live config, grow-only.

Each side step reads the requests topics of the services that have its role in this runner's pool,
through a consumer group of its own (``rdv-<role>-<pool>``), so it never delays scoring and scoring
never delays it. Each runs on a ``StreamLoop`` (streaming.runtime) on its own thread, with its own
consumer and producer; nothing is shared with the scoring loop but the (copy-on-write) config follower.

The runtime commits a record only once everything produced from it is acknowledged: a crash re-reads,
it never skips.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from contracts.config import ServiceConfig
from contracts.kafka import Admin, Record, TopicSpec, make_admin, make_consumer, make_producer
from contracts.keys import ServiceKey
from contracts.messages import Request
from contracts.provenance import Refused, RepliesPartitions, admit_request
from contracts.roles import SCORING_ROLES
from contracts.topics import service_topics
from contracts.topology import service_topic_specs
from model_runner.settings import RunnerSettings
from streaming import LoopSettings, StepIO, StreamLoop
from streaming.exporter import LoopCollector
from streaming.follower import ConfigFollower
from streaming.health import HealthFile
from streaming.step import Step
from streaming.threads import start_loop

if TYPE_CHECKING:
    from model_runner.canary import CanarySettings

log = logging.getLogger(__name__)

# Side work is not on the hot path: a longer wait when idle costs nobody anything.
SIDE_LOOP_SETTINGS = LoopSettings(max_wait_s=0.1)

__all__ = ["SIDE_LOOP_SETTINGS", "ServiceKey", "SideStep", "make_side_loops", "start_side_loops"]


class SideStep(Step):
    role: str  # the deployment role this step serves

    def __init__(self, *, pool: str, runner_id: str, admin: Admin) -> None:
        self.name = self.role
        self.pool = pool
        self.runner_id = runner_id
        # Borrowed: the loop owns the admin and closes it.
        self._replies = RepliesPartitions(admin.partition_count)
        self._active: dict[str, ServiceKey] = {}  # requests topic -> service, for services with the role
        self._scored_here: set[ServiceKey] = set()
        self.stats = {"records": 0, "skipped": 0, "dead_lettered": 0}

    # -- what a side step does -------------------------------------------------------------------

    def handle(self, record: Record, service_key: ServiceKey, io: StepIO) -> None:
        """One record of an active service's requests topic."""
        raise NotImplementedError

    def services_changed(self, active: set[ServiceKey]) -> None:
        """The set of services with this step's role in the pool changed."""
        return None

    def outputs_of(self, config: ServiceConfig) -> set[str]:
        """Per-service topics this step writes, ensured before it subscribes."""
        return set()

    # -- the runtime's hooks ---------------------------------------------------------------------

    def _mine(self, services: Mapping[ServiceKey, ServiceConfig]) -> dict[ServiceKey, ServiceConfig]:
        return {
            key: config
            for key, config in services.items()
            if any(d.role == self.role for d in config.in_pool(self.pool))
        }

    def wanted_topics(self, services: Mapping[ServiceKey, ServiceConfig]) -> Sequence[TopicSpec]:
        # Grow-only (the runtime's rule): a service whose role was removed is read and acknowledged
        # without being handled, so re-adding the role later starts from then, not from the old offset.
        return [
            spec
            for (tenant, service), config in self._mine(services).items()
            for spec in service_topic_specs(tenant, service, config.partitions)
            if spec.name == service_topics(tenant, service).requests
        ]

    def output_topics(self, services: Mapping[ServiceKey, ServiceConfig]) -> Sequence[TopicSpec]:
        return [
            spec
            for (tenant, service), config in self._mine(services).items()
            for spec in service_topic_specs(tenant, service, config.partitions)
            if spec.name in self.outputs_of(config)
        ]

    def configure(self, services: Mapping[ServiceKey, ServiceConfig], io: StepIO) -> None:
        self._replies.count()  # read the metadata now, not on the first request's path
        active = {service_topics(*key).requests: ServiceKey(*key) for key in self._mine(services)}
        self._scored_here = {
            ServiceKey(*key)
            for key, config in services.items()
            if any(d.role in SCORING_ROLES for d in config.in_pool(self.pool))
        }
        changed = set(active.values()) != set(self._active.values())
        self._active = active
        if changed:
            self.services_changed(set(active.values()))
            log.info("%s: %d active services", self.role, len(active))

    def process(self, records: Sequence[Record], io: StepIO) -> None:
        for record in records:
            self.stats["records"] += 1
            service_key = self._active.get(record.topic)
            if service_key is None:
                self.stats["skipped"] += 1
            else:
                self.handle(record, service_key, io)

    def health(self) -> Mapping[str, object]:
        return dict(self.stats)

    # -- helpers for the steps ---------------------------------------------------------------------

    def admit(self, record: Record, service_key: ServiceKey, io: StepIO) -> Request | None:
        """The decoded request, or None when the record is poison (dead-lettered): not JSON, not a Request,
        or one whose body disagrees with its topic (contracts.provenance), which is then not handled."""
        request = admit_request(record.value, record.topic, replies_partitions=self._replies.count)
        if isinstance(request, Refused):
            self.dead_letter(record, request.reason, service_key, io)
            return None
        return request

    def dead_letter(self, record: Record, error: str, service_key: ServiceKey, io: StepIO) -> None:
        """Poison goes to ``rdv.dlq`` once per pool: when this pool also scores the service, the
        scoring loop has read the same record and already sent it there."""
        if service_key in self._scored_here:
            self.stats["skipped"] += 1
            return
        io.dead_letter(record, error)
        self.stats["dead_lettered"] += 1


def make_side_loops(
    settings: RunnerSettings, follower: ConfigFollower, canary: CanarySettings
) -> list[StreamLoop]:
    """The decoy and canary loops of this runner, each with Kafka clients of its own (the loop owns them)."""
    from model_runner.canary import CanaryStep
    from model_runner.decoy import DecoyStep

    def loop(step_type: type[SideStep], **extra: object) -> StreamLoop:
        admin = make_admin(settings.kafka)
        step = step_type(pool=settings.pool, runner_id=settings.runner_id, admin=admin, **extra)  # type: ignore[call-arg]
        return StreamLoop(
            step,
            consumer=make_consumer(settings.kafka, group_id=f"rdv-{step.role}-{settings.pool}", assignor="range"),
            producer=make_producer(settings.kafka),
            admin=admin,
            config=follower,
            settings=SIDE_LOOP_SETTINGS,
        )

    return [loop(DecoyStep), loop(CanaryStep, canary=canary, token=settings.token)]


def start_side_loops(
    settings: RunnerSettings,
    follower: ConfigFollower,
    canary: CanarySettings,
    stop: threading.Event,
    failed: threading.Event,
    health_file: HealthFile | None = None,
    metrics: LoopCollector | None = None,
) -> list[threading.Thread]:
    """Each side loop on its own thread; if one dies the whole runner stops (``streaming.threads``).
    Their state goes into the runner's health file (written by the scoring loop) when there is one."""
    loops = make_side_loops(settings, follower, canary)
    if health_file is not None:
        for loop in loops:
            health_file.add_loop(loop.name, loop.report)
    if metrics is not None:
        for loop in loops:
            metrics.add(loop.name, loop.metrics)
    return [start_loop(loop, stop, failed) for loop in loops]
