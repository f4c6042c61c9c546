"""``scripts/runner_confined.py``: a model runner in the validation's bubblewrap sandbox, with the network.

It reaches the real broker (ready), runs as ``nobody`` with none of the parent's secrets, sees neither the
repository nor the artifact store, writes its artifact cache, and drains on SIGTERM like a bare runner.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

from tests.kafka_auth import worker_env
from tests.piped_process import REPO


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1]) == pid:
                    found.append(int(entry.name))
            except (OSError, IndexError, ValueError):
                continue
    return found


def test_a_confined_runner_serves_from_the_broker_and_sees_nothing_else(kafka_bootstrap: str, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    log = tmp_path / "runner.log"
    env = {
        **os.environ,
        **worker_env("runner"),  # the runner's own Kafka principal, not the tests' admin
        "DATABASE_URL": "postgres://user:secret@127.0.0.1/db",
        "DJANGO_SECRET_KEY": "secret",
        "RDV_KAFKA_BOOTSTRAP": kafka_bootstrap,
        "RDV_RUNNER_POOL": f"confined-{uuid.uuid4().hex[:8]}",
        "RDV_RUNNER_ID": "confined-1",
        "RDV_ARTIFACT_CACHE": str(cache),
        "PYTHONUNBUFFERED": "1",
    }
    with log.open("w") as out:
        wrapper = subprocess.Popen([sys.executable, "scripts/runner_confined.py"], cwd=REPO, env=env, stdout=out,
                                   stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 90
        while " ready" not in log.read_text():
            assert wrapper.poll() is None and time.monotonic() < deadline, log.read_text()[-3000:]
            time.sleep(0.2)
        (runner,) = [pid for bwrap in _children(wrapper.pid) for pid in _children(bwrap)]
        proc = Path(f"/proc/{runner}")
        environ = (proc / "environ").read_bytes()
        seen_root = proc / "root"

        assert proc.stat().st_uid == 65534
        assert b"DATABASE_URL" not in environ and b"DJANGO_SECRET_KEY" not in environ
        assert f"RDV_KAFKA_BOOTSTRAP={kafka_bootstrap}".encode() in environ
        assert not (seen_root / str(REPO).lstrip("/") / "manage.py").exists()
        assert not (seen_root / "home").exists() and not (seen_root / "var").exists()
        assert (seen_root / str(cache).lstrip("/")).is_dir()

        wrapper.send_signal(signal.SIGTERM)
        assert wrapper.wait(30) == 0, log.read_text()[-3000:]
        assert "stopped; stats" in log.read_text()
    finally:
        if wrapper.poll() is None:
            wrapper.kill()
