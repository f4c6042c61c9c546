"""Windows of ``GET …/metrics?window=`` (``15m``, ``1h``, ``7d``) and which stored rows cover one.

A window of ``n`` minutes is the last ``n`` whole minutes, the current (partial) one included. Whole
hours inside it are read from hour rows plus the minute rows not rolled into them yet; the minutes at its
edges from minute rows. Minute rows are kept only ``minute_retention``: a window starting before that
starts at the hour instead (its first hour read whole), and says so in its ``from``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta

_WINDOW = re.compile(r"([1-9][0-9]{0,5})([mhd])")
_UNIT_MINUTES = {"m": 1, "h": 60, "d": 1440}
MINUTE = 60
HOUR = 3600


class WindowError(ValueError):
    """A window the endpoint refuses (400)."""


def window_parse(text: str | None, *, maximum: timedelta, default: str = "1h") -> int:
    """The window in minutes; ``<n>m``, ``<n>h`` or ``<n>d``, from one minute to ``maximum``."""
    text = default if text is None or text == "" else text
    match = _WINDOW.fullmatch(text)
    if match is None:
        raise WindowError(f"window {text[:32]!r} is not <n>m, <n>h or <n>d (e.g. 15m, 1h, 7d)")
    minutes = int(match.group(1)) * _UNIT_MINUTES[match.group(2)]
    if minutes * MINUTE > maximum.total_seconds():
        raise WindowError(f"window {text!r} is longer than the longest kept, {_format(maximum)}")
    return minutes


def _format(span: timedelta) -> str:
    minutes = int(span.total_seconds() // MINUTE)
    for unit, size in (("d", 1440), ("h", 60)):
        if minutes % size == 0:
            return f"{minutes // size}{unit}"
    return f"{minutes}m"


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
