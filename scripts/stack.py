"""Start and supervise the platform's processes: gateway, runners, rendezvous, decisions, status, Celery.

Used by ``make run`` (the demo) and by the benchmarks. Kafka must already be up (scripts/kafka.sh).
Prints ``[stack] ready`` once every process reports ready, then relays their output until Ctrl-C or
SIGTERM, which stops them all.

    python scripts/stack.py --port 8000 --runners 1 --rendezvous 1 [--demo]
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from contracts.kafka.acls import role_env  # noqa: E402  (after the path: run as a script)
from contracts.settings_catalog import read_int, read_optional_str, read_str  # noqa: E402


class Child:
    def __init__(self, name: str, argv: list[str], env: dict[str, str], ready_marker: str | None) -> None:
        self.name = name
        self.ready = threading.Event()
        self._marker = ready_marker
        self.process = subprocess.Popen(
            argv, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1,
        )
        if ready_marker is None:
            self.ready.set()
        threading.Thread(target=self._relay, daemon=True).start()

    def _relay(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            if self._marker and self._marker in line:
                self.ready.set()
            sys.stdout.write(f"{self.name:>12} | {line}")
            sys.stdout.flush()

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)

    def wait(self, timeout: float) -> None:
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()


def wait_http(url: str, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return True
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.2)
    return False


def runner_env(env: dict[str, str]) -> dict[str, str]:
    """The runners' pool and its token (DESIGN.md §6, *Artifact access*), derived from the control plane's
    RDV_RUNNER_SECRET (the development one when unset) unless RDV_RUNNER_TOKEN is given."""
    sys.path.insert(0, str(ROOT))
    from contracts.pool_tokens import pool_token

    pool = read_str(env, "RDV_RUNNER_POOL")
    token = read_optional_str(env, "RDV_RUNNER_TOKEN") or pool_token(secret=read_str(env, "RDV_RUNNER_SECRET"),
                                                                     pool=pool)
    return {**env, "RDV_RUNNER_POOL": pool, "RDV_RUNNER_TOKEN": token}


def demo_hint(port: int) -> str:
    token = (ROOT / ".run" / "demo-token").read_text().strip()
    body = json.dumps({"inputs": {"sepal_length": 5.9, "sepal_width": 3.0, "petal_length": 5.1,
                                  "petal_width": 1.8}, "user_key": "alice"})
    return (
        f"curl -s -X POST http://127.0.0.1:{port}/api/v1/tenants/demo/services/iris/predict "
        f"-H 'Authorization: Bearer {token}' -H 'Content-Type: application/json' -d '{body}'"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--port", type=int, default=read_int(os.environ, "RDV_HTTP_PORT"))
    parser.add_argument("--runners", type=int, default=1)
    parser.add_argument("--rendezvous", type=int, default=1)
    parser.add_argument("--no-celery", dest="celery", action="store_false",
                        help="without the Celery worker and beat (background validation and rollout analysis)")
    parser.add_argument("--demo", action="store_true", help="print a curl line for the demo service")
    parser.add_argument("--ready-timeout", type=float, default=90.0)
    args = parser.parse_args(argv)

    env = {
        **os.environ,
        "PYTHONUNBUFFERED": "1",
        "RDV_PUBLIC_URL": read_str(os.environ, "RDV_PUBLIC_URL", default=f"http://127.0.0.1:{args.port}"),
    }
    python = sys.executable
    # Each process connects to Kafka as its role's principal (contracts/kafka/acls.py).
    control = {**env, **role_env("controlplane", env)}
    runner = {**env, **role_env("runner", env)}
    rendezvous = {**env, **role_env("rendezvous", env)}
    children = [
        Child("gateway", [python, "-m", "uvicorn", "controlplane.asgi:application", "--host", "127.0.0.1",
                          "--port", str(args.port), "--no-access-log", "--lifespan", "off"], control, None),
    ]
    children += [
        Child(f"runner-{i}", [python, "-m", "model_runner"], {**runner_env(runner), "RDV_RUNNER_ID": f"runner-{i}"},
              "ready")
        for i in range(args.runners)
    ]
    children.append(Child("decisions", [python, "manage.py", "consume_decisions"], control, "[decisions] ready"))
    children.append(Child("status", [python, "manage.py", "consume_status"], control, "[status] ready"))
    children.append(Child("drift", [python, "manage.py", "consume_drift"], control, "[drift] ready"))
    children.append(Child("rollups", [python, "manage.py", "consume_rollups"], control, "[rollups] ready"))
    if args.celery:
        children += [
            Child("celery", [python, "-m", "celery", "-A", "controlplane", "worker", "-Q", "celery", "--loglevel",
                             "INFO", "--concurrency", "2", "--without-gossip", "--without-mingle", "-n", "default@%h"],
                  control, " ready."),
            # Validation on its own queue and worker: slow uploads never delay rollout analysis or the fallback.
            Child("celery-validation", [python, "-m", "celery", "-A", "controlplane", "worker", "-Q", "validation",
                                        "--loglevel", "INFO", "--concurrency", "1", "--without-gossip",
                                        "--without-mingle", "-n", "validation@%h"], control, " ready."),
            Child("beat", [python, "-m", "celery", "-A", "controlplane", "beat", "--loglevel", "INFO"], control,
                  "beat: Starting"),
        ]
    children += [
        Child(f"rendezvous-{i}", [python, "-m", "rendezvous_worker"], {**rendezvous, "RDV_INSTANCE_ID": f"rdv-{i}"},
              "ready")
        for i in range(args.rendezvous)
    ]
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    try:
        started = time.monotonic()
        if not wait_http(f"http://127.0.0.1:{args.port}/readyz", args.ready_timeout):
            print("[stack] the gateway did not become ready; see its output above", flush=True)
            return 1
        for child in children:
            remaining = max(0.0, args.ready_timeout - (time.monotonic() - started))
            if not child.ready.wait(remaining):
                print(f"[stack] {child.name} did not become ready; see its output above", flush=True)
                return 1
        print(f"[stack] ready in {time.monotonic() - started:.1f}s: gateway http://127.0.0.1:{args.port} "
              f"(admin /admin/, API docs /api/v1/docs), {args.runners} runner(s), "
              f"{args.rendezvous} rendezvous worker(s)", flush=True)
        if args.demo:
            print("[stack] try a prediction:\n\n    " + demo_hint(args.port) + "\n", flush=True)
            print(f"[stack] the console: http://127.0.0.1:{args.port}/ (log in as demo / demo)\n", flush=True)
        while not stop.is_set():
            for child in children:
                if child.process.poll() is not None:
                    print(f"[stack] {child.name} exited with {child.process.returncode}; stopping", flush=True)
                    return 1
            stop.wait(0.5)
        return 0
    finally:
        for child in children:
            child.stop()
        for child in children:
            child.wait(15)


if __name__ == "__main__":
    raise SystemExit(main())
