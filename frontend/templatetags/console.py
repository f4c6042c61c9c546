"""Formatting for the console's tables: milliseconds, percentages and an inline SVG sparkline."""

from __future__ import annotations

import json
from typing import Any

from django import template
from django.utils.html import format_html

register = template.Library()

DASH = "—"


@register.filter
def ms(value: float | None) -> str:
    if value is None:
        return DASH
    return f"{value:.0f} ms" if value >= 10 else f"{value:.1f} ms"


@register.filter
def pct(value: float | None) -> str:
    if value is None:
        return DASH
    if value == 0:
        return "0 %"
    return f"{value * 100:.1f} %" if value < 0.1 else f"{value * 100:.0f} %"


_RATE_KINDS = {"error_rate", "timeout_rate", "accuracy_drop"}


@register.simple_tag
def alert_value(value: float, kind: str) -> str:
    """An alert's number in its own unit: milliseconds for p99, a percentage for rates, a score for drift."""
    if kind == "p99":
        return ms(value)
    if kind in _RATE_KINDS:
        return pct(value)
    return f"{value:.3f}"


@register.simple_tag
def sparkline(counts: list[int], width: int = 120, height: int = 24) -> str:
    """Requests per minute as a polyline; a flat line at the bottom when nothing was decided."""
    top = max(counts, default=0) or 1
    step = width / max(len(counts) - 1, 1)
    points = " ".join(f"{i * step:.1f},{height - 1 - (c / top) * (height - 2):.1f}" for i, c in enumerate(counts))
    return format_html(
        '<svg class="spark" width="{}" height="{}" viewBox="0 0 {} {}" role="img" '
        'aria-label="{} requests in the last hour">'
        '<polyline fill="none" stroke="currentColor" stroke-width="1.5" points="{}"/></svg>',
        width, height, width, height, sum(counts), points,
    )


_KIND_LABELS = {
    "p99": "p99 latency", "error_rate": "Error rate", "timeout_rate": "Timeout rate", "drift": "Drift",
    "accuracy_drop": "Accuracy drop",
}


@register.filter
def alert_kind(kind: str) -> str:
    return _KIND_LABELS.get(kind, kind)


@register.filter
def jsonish(value: Any) -> str:
    """A JSON value as compact text, cut at 300 characters: outputs and diffs are tenants' data, escaped
    by the template like any other text."""
    if value is None:
        return DASH
    text = json.dumps(value, separators=(", ", ": "), default=str)
    return text if len(text) <= 300 else text[:299] + "…"
