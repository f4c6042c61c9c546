"""The ``window`` of the monitoring endpoints (``…/metrics``, ``…/quality``, ``…/drift``): ``15m``,
``1h``, ``7d`` — a whole number of minutes, hours or days, from one minute to a maximum each endpoint
sets. One grammar and one error message for all of them."""

from __future__ import annotations

import re
from datetime import timedelta

WINDOW_PATTERN = r"^[1-9][0-9]{0,5}[mhd]$"
_UNITS = {"m": timedelta(minutes=1), "h": timedelta(hours=1), "d": timedelta(days=1)}


class WindowError(ValueError):
    """A window an endpoint refuses (400 ``invalid``, ``detail.window``)."""


def window_format(span: timedelta) -> str:
    minutes = int(span.total_seconds() // 60)
    for unit, size in (("d", 1440), ("h", 60)):
        if minutes % size == 0:
            return f"{minutes // size}{unit}"
    return f"{minutes}m"


def window_parse(text: str, *, maximum: timedelta) -> timedelta:
    if not re.fullmatch(WINDOW_PATTERN, text):
        raise WindowError(f"window {text[:32]!r} is not <n>m, <n>h or <n>d (e.g. 15m, 1h, 7d)")
    window = int(text[:-1]) * _UNITS[text[-1]]
    if window > maximum:
        raise WindowError(f"window {text!r} is longer than the longest, {window_format(maximum)}")
    return window
