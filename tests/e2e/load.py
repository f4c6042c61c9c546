"""A steady stream of predictions through the gateway, kept per request for later assertions."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

import httpx


@dataclass(frozen=True, slots=True)
class Answer:
    sent_at: float  # time.monotonic()
    status_code: int | None  # None: no HTTP answer at all (connection error, client timeout)
    version: int | None
    error: str | None


class SteadyLoad:
    """``rate`` predictions per second, spread over ``threads`` clients, each paced on its own schedule."""

    def __init__(self, url: str, headers: dict[str, str], bodies: list[dict], *, rate: float = 40, threads: int = 4):
        self._url = url
        self._headers = headers
        self._bodies = bodies
        self._interval = threads / rate
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self.answers: list[Answer] = []
        self._threads = [threading.Thread(target=self._run, args=(i,), daemon=True) for i in range(threads)]

    def __enter__(self) -> SteadyLoad:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(30)

    def since(self, moment: float) -> list[Answer]:
        with self._lock:
            return [a for a in self.answers if a.sent_at >= moment]

    def _run(self, index: int) -> None:
        next_at = time.monotonic() + index * self._interval / len(self._threads)
        count = index
        with httpx.Client(timeout=10) as client:
            while not self._stop.is_set():
                delay = next_at - time.monotonic()
                if delay > 0:
                    self._stop.wait(delay)
                next_at += self._interval
                body = self._bodies[count % len(self._bodies)]
                count += 1
                sent = time.monotonic()
                try:
                    response = client.post(self._url, json=body, headers=self._headers)
                    version = response.json().get("version") if response.status_code == 200 else None
                    answer = Answer(sent, response.status_code, version, None if version else response.text[:200])
                except (httpx.HTTPError, ValueError) as exc:
                    answer = Answer(sent, None, None, f"{type(exc).__name__}: {exc}")
                with self._lock:
                    self.answers.append(answer)
