"""A version's ``metadata.internal_state``: checked at upload, read back when the config is published.

Internal state is a Redis hash the runner reads right before this version's predict call, for this
version only (DESIGN.md §4); the spec's rules live in contracts.state, shared with the runners.
"""

from __future__ import annotations

import logging
from typing import Any

from contracts.state import RedisProvider, StateSpecError, internal_state_parse
from controlplane.errors import InvalidInput

log = logging.getLogger(__name__)


def internal_state_check(metadata: dict[str, Any]) -> None:
    """400 with every problem when ``metadata.internal_state`` is present and unusable."""
    try:
        internal_state_parse(metadata.get("internal_state"))
    except StateSpecError as exc:
        raise InvalidInput({"metadata": {"internal_state": exc.problems}}) from exc


def internal_state_of(metadata: dict[str, Any]) -> RedisProvider | None:
    """The spec runners receive; a row stored before upload checks existed never blocks publishing."""
    try:
        return internal_state_parse((metadata or {}).get("internal_state"))
    except StateSpecError as exc:
        log.warning("ignoring an invalid metadata.internal_state: %s", exc)
        return None
