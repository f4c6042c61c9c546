"""Garbage-collector settings for a streaming process: fewer collections on the hot path.

Every record allocates a handful of short-lived containers (decoded messages, refs, closures), and a
rendezvous keeps thousands of pending requests alive. With CPython's default thresholds (a young
collection every 700 allocations, a full one every 100 young ones) the collector scanned that
long-lived state again and again: 20-30 % of the rendezvous step's CPU per request in
a microbenchmark of the step (docs/benchmarks.md, issue 15). Reference counting still
frees almost everything at once; only cycles wait for a collection.
"""

from __future__ import annotations

import gc
import threading

# Young collections every 20,000 allocations instead of 700; middle every 20 young, full every 100 middle.
THRESHOLDS = (20_000, 20, 100)

_lock = threading.Lock()
_tuned = False


def tune() -> None:
    """Once per process: move what is alive now (modules, configs, loaded models) out of the collector's
    sight, and collect less often. Later calls do nothing."""
    global _tuned
    with _lock:
        if _tuned:
            return
        _tuned = True
        gc.collect()
        gc.freeze()
        gc.set_threshold(*THRESHOLDS)
