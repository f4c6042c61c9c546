"""The overview's numbers from the roll-up rows: pure functions over plain data."""

from __future__ import annotations

import time
from datetime import UTC, datetime

from controlplane.monitoring.selectors import MinutePoint
from frontend.selectors import _sparkline, champion_summary


def _numbers(role: str, count: int, errors: int, p99: float | None) -> dict:
    return {"role": role, "count": count, "errors": errors, "timeouts": 1, "fallbacks": 2, "p99_ms": p99}


def test_two_champions_in_the_hour_add_up_and_the_worst_p99_shows() -> None:
    summary = champion_summary(
        service=None,  # type: ignore[arg-type]
        deployments=[_numbers("champion", 60, 6, 40.0), _numbers("champion", 40, 0, 90.0),
                     _numbers("challenger", 100, 50, 500.0)],
        active_alerts=0, sparkline=[],
    )
    assert summary.requests == 100 and summary.error_rate == 0.06 and summary.p99_ms == 90.0
    assert summary.timeout_rate == 0.02 and summary.fallback_rate == 0.04


def test_no_champion_no_numbers() -> None:
    summary = champion_summary(service=None, deployments=[], active_alerts=0, sparkline=[])  # type: ignore[arg-type]
    assert (summary.requests, summary.p99_ms, summary.error_rate) == (0, None, None)


def test_the_sparkline_sums_a_minute_of_two_champions_and_fills_silent_minutes() -> None:
    now = time.time()
    last = int(now // 60) * 60

    def point(at: int, count: int) -> MinutePoint:
        return MinutePoint(datetime.fromtimestamp(at, tz=UTC), count, None, None, None, None, None, None)

    line = _sparkline([point(last, 3), point(last, 4), point(last - 120, 5)], now=now)

    assert len(line) == 60 and line[-1] == 7 and line[-3] == 5 and sum(line) == 12
