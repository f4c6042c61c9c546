"""CPU use of named processes over a measurement, from /proc (Linux): where the cores went.

    watch = CpuWatch.parse("runner=123,rendezvous=456,broker=789")
    before = watch.sample(); ...; print(watch.percent_since(before))   # {"runner": 97.0, ...}

100 % is one core fully busy. Children of a process are not included. ``idle`` and ``steal`` are
shares of the whole machine: on a shared VM, steal is CPU time the hypervisor gave to other guests.
"""

from __future__ import annotations

import os
import time

_TICKS = os.sysconf("SC_CLK_TCK")


def _cpu_seconds(pid: int) -> float | None:
    try:
        with open(f"/proc/{pid}/stat") as handle:
            fields = handle.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    # After the command name: state is field 0, utime field 11, stime field 12.
    return (int(fields[11]) + int(fields[12])) / _TICKS


def _machine() -> tuple[int, int, int]:
    """(total, idle, steal) jiffies of all cores: steal is time the hypervisor gave to someone else."""
    with open("/proc/stat") as handle:
        values = [int(v) for v in handle.readline().split()[1:]]
    idle = values[3] + values[4]
    steal = values[7] if len(values) > 7 else 0
    return sum(values[:8]), idle, steal


class CpuWatch:
    def __init__(self, pids: dict[str, int]) -> None:
        self.pids = pids

    @classmethod
    def parse(cls, spec: str | None) -> CpuWatch:
        pids: dict[str, int] = {}
        for item in (spec or "").split(","):
            if "=" in item:
                name, _, pid = item.partition("=")
                pids[name.strip()] = int(pid)
        return cls(pids)

    def sample(self) -> tuple[float, tuple[int, int, int], dict[str, float | None]]:
        return time.monotonic(), _machine(), {name: _cpu_seconds(pid) for name, pid in self.pids.items()}

    def percent_since(self, before: tuple[float, tuple[int, int, int], dict[str, float | None]]) -> dict[str, float]:
        """Per watched process (100 = one core), plus the machine's ``idle`` and ``steal`` shares (100 = all)."""
        started, machine_before, used_before = before
        now, machine_now, used_now = self.sample()
        elapsed = max(1e-6, now - started)
        out = {}
        for name, value in used_now.items():
            old = used_before.get(name)
            if value is not None and old is not None:
                out[name] = round(100.0 * (value - old) / elapsed, 1)
        total, idle, steal = (b - a for a, b in zip(machine_before, machine_now, strict=True))
        if total > 0:
            out["idle"] = round(100.0 * idle / total, 1)
            out["steal"] = round(100.0 * steal / total, 1)
        return out
