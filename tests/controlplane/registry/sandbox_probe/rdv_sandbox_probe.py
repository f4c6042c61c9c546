"""The sandbox probe: code a hostile model would run, run inside a validation (test settings only).

The validation child imports this module when a ``python`` artifact names ``rdv_sandbox_probe:probe`` and
``RDV_VALIDATION_TEST_PROBE_DIR`` points at this directory (controlplane.settings.test). The artifact's first
line is a comment holding what to try, as JSON; ``probe`` tries each and reports which attempts succeeded
(``escaped``) and which were stopped (``blocked``). It imports nothing from the platform: only this directory
is mounted next to the runner's code.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import time
from pathlib import Path
from typing import Any


def _attempts(artifact: Path) -> dict[str, Any]:
    first = artifact.read_text(encoding="utf-8").splitlines()[0]
    return json.loads(first.lstrip("#").strip())


def _connects(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=2):
            return True
    except OSError:
        return False


def _reads(path: str) -> bool:
    try:
        if os.path.isdir(path):
            return bool(os.listdir(path))
        with open(path, "rb") as handle:
            return bool(handle.read(16))
    except OSError:
        return False


def _parent_environment_seen(pid: int, names: list[str]) -> bool:
    try:
        environ = Path(f"/proc/{pid}/environ").read_bytes()
    except OSError:
        return False
    return any(f"{name}=".encode() in environ for name in names)


def _forks(count: int) -> int:
    """How many sleeping children could be started (each killed again at once)."""
    children: list[int] = []
    try:
        for _ in range(count):
            pid = os.fork()
            if pid == 0:
                time.sleep(60)
                os._exit(0)
            children.append(pid)
    except OSError:
        pass
    for pid in children:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
    return len(children)


def _leave_a_daemon(marker: str) -> None:
    """A grandchild in its own session, ``sleep <marker>``: it must not outlive the validation."""
    pid = os.fork()
    if pid == 0:
        try:
            os.setsid()
            if os.fork() == 0:
                os.execv("/bin/sleep", ["sleep", marker])
        finally:
            os._exit(0)
    os.waitpid(pid, 0)


def probe(artifact: Path) -> dict[str, list[str]]:
    attempts = _attempts(artifact)
    if "hang_s" in attempts:  # leave a daemon, then make the parent kill us at its timeout
        _leave_a_daemon(attempts["daemon_marker"])
        time.sleep(attempts["hang_s"])
    results: dict[str, bool] = {}
    for name, (host, port) in attempts["tcp"].items():
        results[f"tcp:{name}"] = _connects(host, port)
    for name, path in attempts["files"].items():
        results[f"read:{name}"] = _reads(path)
    secrets = attempts["env"]
    results["env:own"] = any(name in os.environ for name in secrets)
    results["env:parent"] = _parent_environment_seen(attempts["parent_pid"], secrets)
    results["fork:many"] = _forks(attempts["forks"]) >= attempts["forks"]
    _leave_a_daemon(attempts["daemon_marker"])
    return {
        "escaped": sorted(name for name, succeeded in results.items() if succeeded),
        "blocked": sorted(name for name, succeeded in results.items() if not succeeded),
    }
