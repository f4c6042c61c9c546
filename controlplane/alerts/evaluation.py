"""Which alerts to raise, update and clear, from what was measured: pure, no database.

A signal is one watched value with its threshold. It breaches when the value is above the threshold;
an alert is raised on the first breach and cleared on the first evaluation whose value is back at or
below it. A signal with no value this time (no traffic, no report) changes nothing: silence is not
recovery.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

AlertKey = tuple[str, str]  # (kind, subject)


@dataclass(frozen=True, slots=True)
class Signal:
    kind: str
    subject: str
    value: float | None
    threshold: float
    # When the source judges the breach itself (drift: PSI over its threshold, or KS, or a feature
    # missing from a whole bucket); else the value above the threshold is the breach.
    breach: bool | None = None

    @property
    def key(self) -> AlertKey:
        return (self.kind, self.subject)

    @property
    def breaching(self) -> bool:
        if self.value is None:
            return False
        return self.breach if self.breach is not None else self.value > self.threshold


@dataclass(frozen=True, slots=True)
class Firing:
    """What evaluation needs of an alert that is firing."""

    key: AlertKey
    value_worst: float


@dataclass(frozen=True, slots=True)
class Raise:
    signal: Signal


@dataclass(frozen=True, slots=True)
class Update:
    key: AlertKey
    value: float
    worst: float
    threshold: float


@dataclass(frozen=True, slots=True)
class Clear:
    key: AlertKey
    value: float


@dataclass(slots=True)
class Transitions:
    raised: list[Raise] = field(default_factory=list)
    updated: list[Update] = field(default_factory=list)
    cleared: list[Clear] = field(default_factory=list)


def evaluate(signals: Iterable[Signal], firing: Mapping[AlertKey, Firing], *, watched: set[str]) -> Transitions:
    """``watched``: the kinds the rules still watch. A firing alert of a kind no longer watched clears
    (its threshold was removed), with the last value it had."""
    out = Transitions()
    seen: set[AlertKey] = set()
    for signal in signals:
        if signal.key in seen:
            raise ValueError(f"two signals for {signal.key}")
        seen.add(signal.key)
        current = firing.get(signal.key)
        if signal.value is None:
            continue
        if current is None:
            if signal.breaching:
                out.raised.append(Raise(signal))
        elif signal.breaching:
            worst = max(current.value_worst, signal.value)
            out.updated.append(Update(signal.key, signal.value, worst, signal.threshold))
        else:
            out.cleared.append(Clear(signal.key, signal.value))
    for key, current in firing.items():
        if key[0] not in watched:
            out.cleared.append(Clear(key, current.value_worst))
    return out
