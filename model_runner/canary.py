"""The canary's drift monitor: histograms of a service's inputs per time bucket, published to ``rdv.drift``.

A ``canary`` deployment scores like any model (the scoring loop handles it: it is the simple
baseline); in addition the runners of its pool count that service's inputs here, per time bucket of
the requests' ``sent_at`` (``contracts.drift.DriftBuckets``), and publish one DriftReport per bucket
and runner, keyed ``tenant/service`` and signed with the pool's token (*changed (monitoring)*).

Nothing is compared here: the control plane adds up the reports of every runner of the pool (each
reads only its own partitions), chooses the reference and scores the drift (``controlplane.drift``).
A bucket lives in memory until it is reported; a graceful stop reports every open bucket (a later
part of the same bucket merges with it), so only a crash loses what was not reported yet.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass

from contracts.codec import encode
from contracts.drift import DriftBuckets
from contracts.kafka import Admin, Record
from contracts.keys import ServiceKey
from contracts.messages import DriftReport
from contracts.settings_catalog import SettingError, read_float
from contracts.topics import DRIFT_TOPIC, config_key
from model_runner.scoring import request_row
from model_runner.settings import SettingsError
from model_runner.side_loop import SideStep
from streaming import StepIO

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class CanarySettings:
    # The length of a drift bucket (RDV_DRIFT_WINDOW_SECONDS): one point of the service's drift series.
    bucket_s: float = 60.0

    def __post_init__(self) -> None:
        if self.bucket_s <= 0:
            raise ValueError(f"RDV_DRIFT_WINDOW_SECONDS must be positive, not {self.bucket_s}")


def canary_settings_from_env(environ: Mapping[str, str] | None = None) -> CanarySettings:
    """RDV_DRIFT_WINDOW_SECONDS; its declared default is ``CanarySettings()``'s (a test keeps them equal)."""
    env = os.environ if environ is None else environ
    try:
        return CanarySettings(bucket_s=read_float(env, "RDV_DRIFT_WINDOW_SECONDS"))
    except SettingError as exc:
        raise SettingsError(str(exc)) from None
    except ValueError as exc:
        raise SettingsError(f"drift monitor: {exc}") from exc


class CanaryStep(SideStep):
    role = "canary"

    def __init__(self, *, pool: str, runner_id: str, admin: Admin, canary: CanarySettings, token: str) -> None:
        super().__init__(pool=pool, runner_id=runner_id, admin=admin)
        self._settings = canary
        self._token = token
        self._buckets: dict[ServiceKey, DriftBuckets] = {}
        self.stats["reports"] = 0

    def services_changed(self, active: set[ServiceKey]) -> None:
        for gone in self._buckets.keys() - active:
            del self._buckets[gone]

    def handle(self, record: Record, service_key: ServiceKey, io: StepIO) -> None:
        request = self.admit(record, service_key, io)
        if request is None:
            return
        buckets = self._buckets.get(service_key)
        if buckets is None:
            buckets = self._buckets[service_key] = DriftBuckets(
                *service_key, bucket_s=self._settings.bucket_s, pool=self.pool, runner=self.runner_id,
                token=self._token,
            )
        # Buckets measure quiet on the monotonic clock, whatever the wall clock does.
        buckets.add(request_row(request), request.sent_at, time.monotonic())

    def tick(self, now: float, io: StepIO) -> None:
        monotonic = time.monotonic()
        for buckets in self._buckets.values():
            for report in buckets.due(now, monotonic):
                self._publish(report, io)

    def stopping(self, io: StepIO) -> None:
        for buckets in self._buckets.values():
            for report in buckets.flush():
                self._publish(report, io)

    def health(self) -> Mapping[str, object]:
        return {**self.stats, "open_buckets": sum(b.open_buckets for b in self._buckets.values())}

    def _publish(self, report: DriftReport, io: StepIO) -> None:
        # A bucket's records were committed as they were read (the bucket lives in memory): a report
        # holds none of them, but a report the producer gives up on still stops the loop.
        io.produce(DRIFT_TOPIC, encode(report), key=config_key(report.tenant, report.service).encode())
        self.stats["reports"] += 1
        log.info(
            "drift %s/%s bucket %.0f: %d requests, %d features",
            report.tenant, report.service, report.bucket_start, report.count, len(report.features),
        )
