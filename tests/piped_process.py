"""``python -m <module>`` for integration tests, its output read line by line into memory.

Tests wait on :attr:`PipedProcess.ready` (set by the first line ``is_ready`` accepts) and quote the last
lines in their failure messages, so a worker that dies or hangs explains itself.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Mapping
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


class PipedProcess:
    """One child process; ``env`` is its whole environment (callers start from ``os.environ``)."""

    def __init__(self, module: str, env: Mapping[str, str], is_ready: Callable[[str], bool]) -> None:
        self.lines: list[str] = []
        self.ready = threading.Event()
        self._is_ready = is_ready
        self.process = subprocess.Popen(
            [sys.executable, "-m", module],
            cwd=REPO,
            env=dict(env),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(line.rstrip())
            if self._is_ready(line):
                self.ready.set()

    def output(self, last: int = 40) -> str:
        return "\n".join(self.lines[-last:])

    def stop(self, timeout: float = 15.0) -> int:
        """SIGTERM (a graceful drain), SIGKILL after ``timeout``; the exit code."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                return self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
        return self.process.wait()
