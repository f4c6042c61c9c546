"""Loops on threads of their own, next to a process's main loop: if one dies, the whole process stops
(and is restarted by whoever runs it) rather than go on while that loop's work silently stops."""

from __future__ import annotations

import logging
import threading

from streaming.runtime import StreamLoop

log = logging.getLogger(__name__)


def start_loop(loop: StreamLoop, stop: threading.Event, failed: threading.Event) -> threading.Thread:
    """Run ``loop`` until ``stop`` on a daemon thread. When it raises, the failure is logged, ``failed``
    and then ``stop`` are set: every other loop of the process stops too, and the process exits non-zero."""

    def target() -> None:
        try:
            loop.run(stop)
        except BaseException:
            log.exception("%s loop failed; stopping the process", loop.name)
            failed.set()
            stop.set()
        else:
            log.info("%s loop stopped; stats %s", loop.name, loop.report())

    thread = threading.Thread(target=target, name=f"{loop.name}-loop", daemon=True)
    thread.start()
    return thread
