"""Per-model isolation: every scoring call runs off the loop thread and is waited for at most its timeout.

A model that hangs must not hold up the others (issue 4, acceptance 4). The loop hands each version's
micro-batch call to a worker thread and waits for it up to the version's timeout; past it, that batch
gets ``error`` scores ("timed out after N ms") and the loop moves on. Python cannot kill a thread, so
the hung call keeps its worker: until it returns, the version is *stuck* and new requests for it get
error scores at once instead of queueing behind it, which also keeps at most one call per version in
flight. The loop waits for one call at a time, in scoring priority, so answering roles still leave
first and one stuck version costs the runner its timeout once, not once per request.

Workers are daemon threads of a small elastic pool: a stuck call only ever blocks its own thread, never
the calls of other versions and never the runner's exit (``ThreadPoolExecutor`` joins its threads at
interpreter exit, so one hung model would block a shutdown forever).
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Hashable
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from typing import Any, TypeVar

from contracts.config import DeploymentSpec

log = logging.getLogger(__name__)

T = TypeVar("T")
A = TypeVar("A")
_Task = tuple[Callable[[Any], Any], Any, "Future[Any]"] | None


class IsolationError(RuntimeError):
    """The call did not produce predictions in time; the message is the scores' ``error`` text."""


class ModelTimeout(IsolationError):
    pass


class ModelStuck(IsolationError):
    pass


def effective_timeout_ms(spec: DeploymentSpec, *, default_ms: int, max_ms: int) -> int:
    """The deployment's own timeout when it names one, else the runner's; never above the maximum."""
    wanted = spec.timeout_ms if spec.timeout_ms > 0 else default_ms
    return max(1, min(wanted, max_ms))


class _Worker:
    def __init__(self, pool: CallWorkers, name: str) -> None:
        self._pool = pool
        self.inbox: queue.SimpleQueue[_Task] = queue.SimpleQueue()
        threading.Thread(target=self._run, name=name, daemon=True).start()

    def _run(self) -> None:
        while True:
            task = self.inbox.get()
            if task is None:
                return
            function, argument, future = task
            del task
            if not future.set_running_or_notify_cancel():
                continue
            outcome: Any = None
            failure: BaseException | None = None
            try:
                outcome = function(argument)
            except Exception as exc:  # handed to the waiting loop, which fails the batch only
                failure = exc
            except BaseException as exc:  # noqa: BLE001 - a model calling exit() must not stop the runner
                failure = RuntimeError(f"the model raised {type(exc).__name__}: {exc}")
            # Parked before the result is handed over, so the loop's next call finds this worker idle.
            parked = self._pool._park(self)
            if failure is None:
                future.set_result(outcome)
            else:
                future.set_exception(failure)
            del function, argument, future, outcome, failure  # a finished batch must not stay referenced
            if not parked:
                return


class CallWorkers:
    """Daemon threads that start on demand and park when idle (at most ``max_idle`` parked)."""

    def __init__(self, *, max_idle: int = 4) -> None:
        self._max_idle = max_idle
        self._idle: list[_Worker] = []
        self._lock = threading.Lock()
        self._started = 0
        self._closed = False

    def submit(self, function: Callable[[A], T], argument: A) -> Future[T]:
        future: Future[T] = Future()
        with self._lock:
            if self._closed:
                raise RuntimeError("the call workers are closed")
            worker = self._idle.pop() if self._idle else None
            if worker is None:
                self._started += 1
                worker = _Worker(self, f"model-call-{self._started}")
        worker.inbox.put((function, argument, future))
        return future

    def _park(self, worker: _Worker) -> bool:
        with self._lock:
            if self._closed or len(self._idle) >= self._max_idle:
                return False
            self._idle.append(worker)
            return True

    def close(self) -> None:
        with self._lock:
            self._closed = True
            idle, self._idle = self._idle, []
        for worker in idle:
            worker.inbox.put(None)


@dataclass(slots=True)
class _StuckCall:
    future: Future[Any]
    timed_out_at: float


class IsolatedCalls:
    """Runs one call per version at a time on the workers; remembers the versions that hang."""

    def __init__(self, workers: CallWorkers | None = None) -> None:
        self._workers = workers or CallWorkers()
        self._stuck: dict[Hashable, _StuckCall] = {}

    def call(self, key: Hashable, function: Callable[[A], T], argument: A, *, timeout_ms: int, label: str) -> T:
        """``function(argument)``, or ModelTimeout / ModelStuck; the function's own errors pass through."""
        stuck = self._stuck.get(key)
        if stuck is not None:
            if not stuck.future.done():
                waited = time.monotonic() - stuck.timed_out_at
                raise ModelStuck(
                    f"still running a call that timed out {waited:.1f} s ago; not scored (timeout {timeout_ms} ms)"
                )
            del self._stuck[key]
        started = time.monotonic()
        future = self._workers.submit(function, argument)
        try:
            return future.result(timeout_ms / 1000)
        except FutureTimeout:
            self._stuck[key] = _StuckCall(future, time.monotonic())
            log.warning(
                "%s: a scoring call timed out after %d ms; its requests get error scores until it returns",
                label,
                timeout_ms,
            )
            future.add_done_callback(lambda _done: _log_returned(label, started))
            raise ModelTimeout(f"timed out after {timeout_ms} ms") from None

    def stuck(self) -> list[Hashable]:
        """Versions whose timed-out call is still running (for status reporting)."""
        return [key for key, call in self._stuck.items() if not call.future.done()]

    def close(self) -> None:
        self._workers.close()


def _log_returned(label: str, started: float) -> None:
    log.info("%s: the timed-out call returned after %.1f s; scoring it again", label, time.monotonic() - started)
