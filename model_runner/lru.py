"""Which loaded versions to evict when the runner is over its memory budget: a pure policy.

Least recently used first. Pinned versions stay: those that may answer (champions answer most
requests, fallbacks are needed exactly when a champion fails: neither may be cold then), the version
just loaded, and every version loaded for waiting requests not served yet (evicting either would only
start the same load over).
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Resident:
    key: Hashable
    size_bytes: int
    last_used: float
    pinned: bool = False


def evictions(residents: Iterable[Resident], *, budget_bytes: int) -> list[Hashable]:
    """The keys to evict, oldest use first, until the rest fits the budget (or only pinned remain)."""
    loaded = list(residents)
    total = sum(r.size_bytes for r in loaded)
    chosen: list[Hashable] = []
    for resident in sorted((r for r in loaded if not r.pinned), key=lambda r: r.last_used):
        if total <= budget_bytes:
            break
        chosen.append(resident.key)
        total -= resident.size_bytes
    return chosen
