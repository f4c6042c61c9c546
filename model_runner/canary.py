"""The canary's drift monitor: per-feature drift of a service's inputs, published to ``rdv.drift``.

A ``canary`` deployment scores like any model (the scoring loop handles it: it is the simple
baseline); in addition the runners of its pool watch that service's inputs here, in windows compared
against a reference window (model_runner.drift_windows), and publish one DriftReport per closed
window keyed ``tenant/service``.

Windows live in memory: after a restart the reference is rebuilt from the next requests read, and
the requests of a window still open are not re-read (their offsets were committed). With several
runners in a pool, each reports on the partitions it owns (``runner`` names it in the report).
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Mapping

from contracts.codec import encode
from contracts.kafka import Admin, Record
from contracts.keys import ServiceKey
from contracts.messages import DriftReport
from contracts.settings_catalog import SettingError, read_float, read_int, setting
from contracts.topics import DRIFT_TOPIC, config_key
from model_runner.drift import DriftThresholds
from model_runner.drift_windows import ServiceWindows, WindowSettings
from model_runner.settings import SettingsError
from model_runner.side_loop import SideStep
from streaming import StepIO

log = logging.getLogger(__name__)


def window_settings_from_env(environ: Mapping[str, str] | None = None) -> WindowSettings:
    """The RDV_DRIFT_* variables; their declared defaults are ``WindowSettings()``'s (a test keeps them equal)."""
    env = os.environ if environ is None else environ
    try:
        window_size = read_int(env, "RDV_DRIFT_WINDOW")
        return WindowSettings(
            window_size=window_size,
            window_seconds=read_float(env, "RDV_DRIFT_WINDOW_SECONDS"),
            # A smaller window than the default minimum lowers the minimum with it.
            min_window=read_int(env, "RDV_DRIFT_MIN_WINDOW", default=min(_declared_int("RDV_DRIFT_MIN_WINDOW"),
                                                                          window_size)),
            bins=read_int(env, "RDV_DRIFT_BINS"),
            thresholds=DriftThresholds(
                psi=read_float(env, "RDV_DRIFT_PSI_THRESHOLD"),
                ks_alpha=read_float(env, "RDV_DRIFT_KS_ALPHA"),
                ks_min_statistic=read_float(env, "RDV_DRIFT_KS_MIN_STATISTIC"),
            ),
        )
    except SettingError as exc:
        raise SettingsError(str(exc)) from None
    except ValueError as exc:
        raise SettingsError(f"drift windows: {exc}") from exc


def _declared_int(name: str) -> int:
    return int(setting(name).default)  # type: ignore[arg-type]  # declared as an int


class CanaryStep(SideStep):
    role = "canary"

    def __init__(self, *, pool: str, runner_id: str, admin: Admin, windows: WindowSettings) -> None:
        super().__init__(pool=pool, runner_id=runner_id, admin=admin)
        self._window_settings = windows
        self._windows: dict[ServiceKey, ServiceWindows] = {}
        self.stats["reports"] = 0

    def services_changed(self, active: set[ServiceKey]) -> None:
        for gone in self._windows.keys() - active:
            del self._windows[gone]  # a canary deployed again later starts from a fresh reference

    def handle(self, record: Record, service_key: ServiceKey, io: StepIO) -> None:
        request = self.admit(record, service_key, io)
        if request is None:
            return
        windows = self._windows.get(service_key)
        if windows is None:
            windows = self._windows[service_key] = ServiceWindows(
                *service_key, self._window_settings, pool=self.pool, runner=self.runner_id
            )
        report = windows.add(request, time.monotonic())
        if report is not None:
            self._publish(report, io)

    def tick(self, now: float, io: StepIO) -> None:
        # Windows measure durations: on the monotonic clock, whatever the wall clock does.
        monotonic = time.monotonic()
        for windows in self._windows.values():
            report = windows.tick(monotonic)
            if report is not None:
                self._publish(report, io)

    def _publish(self, report: DriftReport, io: StepIO) -> None:
        # A window's records were committed as they were read (the window lives in memory): a report
        # holds none of them, but a report the producer gives up on still stops the loop.
        io.produce(DRIFT_TOPIC, encode(report), key=config_key(report.tenant, report.service).encode())
        self.stats["reports"] += 1
        log.info(
            "drift %s/%s window %d (%d requests): flagged %s",
            report.tenant,
            report.service,
            report.window_index,
            report.window_count,
            ", ".join(report.flagged) or "nothing",
        )
