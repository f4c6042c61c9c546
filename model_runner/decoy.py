"""The decoy: copies every request of its services, byte for byte, to ``rdv.<t>.<s>.archive``.

A deployment with role ``decoy`` never scores; it makes the runners of its pool keep the exact input
the models received (the gateway injected the external state once, before fan-out, so the bytes
read from the requests topic ARE what every model saw). The copy is keyed by request_id and stamped
with the request's ``sent_at`` as its record time, so an export seeks the archive by time
(``offsets_for_times``) even when the decoy wrote it late, after a restart.
"""

from __future__ import annotations

import math
import time

from contracts.config import ServiceConfig
from contracts.kafka import Admin, Record
from contracts.keys import ServiceKey
from contracts.topics import service_topics
from model_runner.side_loop import SideStep
from streaming import StepIO, ref_of


def archive_timestamp_ms(sent_at: float, now: float) -> int:
    """``sent_at`` in ms, or now when it is in the future or nonsense (brokers refuse records stamped far
    ahead of their clock, and a client clock running fast must not lose archive records)."""
    now_ms = int(now * 1000)
    stamp = int(sent_at * 1000) if math.isfinite(sent_at) else 0
    return stamp if 0 < stamp <= now_ms else now_ms


class DecoyStep(SideStep):
    role = "decoy"

    def __init__(self, *, pool: str, runner_id: str, admin: Admin) -> None:
        super().__init__(pool=pool, runner_id=runner_id, admin=admin)
        self.stats["archived"] = 0

    def outputs_of(self, config: ServiceConfig) -> set[str]:
        return {service_topics(config.tenant, config.service).archive}

    def handle(self, record: Record, service_key: ServiceKey, io: StepIO) -> None:
        request = self.admit(record, service_key, io)
        if request is None:
            return
        io.produce(
            service_topics(*service_key).archive,
            record.value,  # the bytes as read: never re-encoded
            key=request.request_id.encode(),
            timestamp_ms=archive_timestamp_ms(request.sent_at, time.time()),
            after=(ref_of(record),),  # committed only once the copy is acknowledged
        )
        self.stats["archived"] += 1
