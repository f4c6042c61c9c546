"""A model runner confined by bubblewrap, like a validation but with the network (DESIGN.md §5, "Runners and
untrusted formats").

    python scripts/runner_confined.py            # instead of: python -m model_runner

The runner sees ``/usr``, the Python installation and virtualenv, the ``model_runner``, ``contracts`` and ``streaming``
packages (all read-only), its artifact cache (``RDV_ARTIFACT_CACHE``, read/write), a private ``/tmp`` and
nothing else of the host: no artifact store, no repository, no home directory. Its environment holds only the
``RDV_*`` variables and ``REDIS_URL`` of this one (never ``DATABASE_URL`` or ``DJANGO_*``). It runs as
``nobody`` (as root: a real uid 65534; otherwise a user namespace), in its own PID namespace and session. It
keeps the network: it needs the broker, Redis and the artifact downloads. SIGTERM and SIGINT are passed on
to the runner so it drains and stops as usual.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from contracts.settings_catalog import read_optional_str, read_str  # noqa: E402
from controlplane.registry import confinement  # noqa: E402 - Django-free; the repository is on sys.path now

_PASSED = ("REDIS_URL", "PYTHONUNBUFFERED", "LANG")


def runner_env() -> dict[str, str]:
    env = {name: value for name, value in os.environ.items() if name.startswith("RDV_") or name in _PASSED}
    return {**env, "PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": "/tmp", "PYTHONPATH": confinement.CODE_ROOT,
            "PYTHONDONTWRITEBYTECODE": "1"}


def main() -> int:
    problem = confinement.sandbox_problem(confinement.BWRAP)
    if problem:
        print(f"[runner_confined] {problem}", file=sys.stderr)
        return 2
    env = runner_env()
    cache = Path(read_str(env, "RDV_ARTIFACT_CACHE", default="/var/cache/rendezvous/artifacts")).resolve()
    env["RDV_ARTIFACT_CACHE"] = str(cache)
    writable = [cache]
    health_file = read_optional_str(env, "RDV_RUNNER_HEALTH_FILE")
    if health_file:
        writable.append(Path(health_file).resolve().parent)
    as_root = os.geteuid() == 0
    for directory in writable:
        directory.mkdir(parents=True, exist_ok=True)
        if as_root:  # the runner is nobody: its cache must be its own
            os.chown(directory, confinement.SANDBOX_UID, confinement.SANDBOX_UID)
    status_read, status_write = os.pipe()
    argv = confinement.bwrap_argv(
        bwrap=confinement.bwrap_executable() or confinement.BWRAP, artifact=None, code_root=REPO, env=env,
        command=[str(confinement.interpreter()), "-m", "model_runner"], as_root=as_root, network=True,
        writable=writable,
    )
    # The runner is the namespace's PID 1 (so signals reach it); bwrap tells us its pid on the host.
    argv[1:1] = ["--as-pid-1", "--json-status-fd", str(status_write)]
    process = subprocess.Popen(argv, pass_fds=(status_write,), env={"PATH": "/usr/bin:/bin"})
    os.close(status_write)
    status = os.fdopen(status_read)  # open until the end: bwrap writes the exit code there too
    first = status.readline()
    child = json.loads(first).get("child-pid") if first else None

    def forward(signum: int, _frame: object) -> None:
        if child:
            os.kill(child, signum)

    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, forward)
    code = process.wait()
    status.close()
    return code


if __name__ == "__main__":
    raise SystemExit(main())
