"""Windows of ``GET …/metrics?window=`` (``15m``, ``1h``, ``7d``) and which stored rows cover one.

A window of ``n`` minutes is the last ``n`` whole minutes, the current (partial) one included. Whole
hours inside it are read from hour rows plus the minute rows not rolled into them yet; the minutes at its
edges from minute rows. Minute rows are kept only ``minute_retention``: a window starting before that
starts at the hour instead (its first hour read whole), and says so in its ``from``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from controlplane.api.windows import WindowError
from controlplane.api.windows import window_parse as api_window_parse

__all__ = ["WindowError", "WindowPlan", "window_parse", "window_plan"]

MINUTE = 60
HOUR = 3600


def window_parse(text: str | None, *, maximum: timedelta, default: str = "1h") -> int:
    """The window in minutes (``controlplane.api.windows``: ``<n>m``, ``<n>h`` or ``<n>d``, at most ``maximum``)."""
    text = default if text is None or text == "" else text
    return int(api_window_parse(text, maximum=maximum).total_seconds()) // MINUTE


@dataclass(frozen=True, slots=True)
class WindowPlan:
    """Epoch seconds, minute-aligned; ``[start, end)`` is the window, ``[hours_from, hours_to)`` whole hours."""

    start: int
    end: int
    hours_from: int
    hours_to: int

    @property
    def has_hours(self) -> bool:
        return self.hours_from < self.hours_to


def window_plan(*, minutes: int, now: float, minute_retention_s: int) -> WindowPlan:
    end = (int(now) // MINUTE + 1) * MINUTE
    start = end - minutes * MINUTE
    if start < end - minute_retention_s:
        start = start // HOUR * HOUR  # the minutes are gone: the first hour is read whole
    hours_from = -(-start // HOUR) * HOUR
    hours_to = end // HOUR * HOUR
    if hours_from >= hours_to:
        hours_from = hours_to = start
    return WindowPlan(start=start, end=end, hours_from=hours_from, hours_to=hours_to)
