"""Windows: what ``?window=`` accepts, and which hours and minutes cover one."""

from __future__ import annotations

from datetime import timedelta

import pytest

from controlplane.monitoring.windows import WindowError, window_parse, window_plan

MAXIMUM = timedelta(days=90)


@pytest.mark.parametrize(("text", "minutes"), [("15m", 15), ("1h", 60), ("7d", 10080), ("90d", 129600), (None, 60)])
def test_windows_in_minutes(text: str | None, minutes: int) -> None:
    assert window_parse(text, maximum=MAXIMUM) == minutes


@pytest.mark.parametrize("text", ["0m", "15", "15s", "1w", "-1h", "1.5h", "h", "91d", "999999d", " 1h", "1h\n"])
def test_bad_windows_are_refused_with_the_reason(text: str) -> None:
    with pytest.raises(WindowError, match="window"):
        window_parse(text, maximum=MAXIMUM)


def test_a_short_window_is_minutes_only() -> None:
    now = 10 * 3600 + 30 * 60 + 12  # 10:30:12
    plan = window_plan(minutes=15, now=now, minute_retention_s=48 * 3600)
    assert (plan.start, plan.end) == (10 * 3600 + 16 * 60, 10 * 3600 + 31 * 60)
    assert not plan.has_hours


def test_a_long_window_is_whole_hours_between_minute_edges() -> None:
    now = 100 * 3600 + 30 * 60 + 12
    plan = window_plan(minutes=6 * 60, now=now, minute_retention_s=48 * 3600)
    assert plan.start == 94 * 3600 + 31 * 60
    assert (plan.hours_from, plan.hours_to) == (95 * 3600, 100 * 3600)
    assert plan.end == 100 * 3600 + 31 * 60


def test_a_window_past_the_minute_retention_starts_at_the_hour() -> None:
    now = 1000 * 3600 + 30 * 60 + 12
    plan = window_plan(minutes=7 * 1440, now=now, minute_retention_s=48 * 3600)
    assert plan.start == plan.hours_from == (1000 - 168) * 3600
    assert plan.hours_to == 1000 * 3600
