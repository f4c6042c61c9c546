"""Running the smoke test (``model_runner.smoke``) in a child process with limits, and explaining its end.

The child is the only process that ever opens a tenant's artifact. It runs confined by bubblewrap
(``confinement``): as an unprivileged user, without network, seeing a read-only copy of its own artifact
and the code it needs, nothing else of the host. It starts with an empty environment (no database URL, no
secrets), caps its own address space, CPU time and process count once its imports are done, and is killed
by the parent at a wall-clock timeout, with everything it forked. Its output is read through pipes with
bounded tails, so a chatty or hostile model cannot fill memory or disk here. ``RDV_VALIDATION_SANDBOX=none``
(development only) keeps the limits and the empty environment but not the confinement.
"""

from __future__ import annotations

import collections
import contextlib
import dataclasses
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import IO, Any

from contracts.smoke import SMOKE_MODULE, SmokeRequest
from controlplane.registry import confinement
from controlplane.registry.confinement import Confinement

ROOT = Path(__file__).resolve().parents[2]
_TAIL_BYTES = 64 * 1024
# The stage names the child prints, as a report says them.
_STAGES = {
    "starting": "starting the validator",
    "loading": "loading the artifact",
    "predicting": "running the smoke prediction",
    "checking": "checking the output",
}


@dataclass(frozen=True, slots=True)
class Limits:
    """What one validation may use; the defaults come from the ``RDV_VALIDATION_*`` settings."""

    timeout_s: float
    memory_mb: int
    cpu_s: int

    def describe(self) -> str:
        return f"{self.timeout_s:g} s wall clock, {self.memory_mb} MB memory, {self.cpu_s} s CPU"


@dataclass(frozen=True, slots=True)
class SandboxResult:
    """The child's outcome (``outcome``, from its last JSON line) or how it ended without one."""

    outcome: dict[str, Any] | None
    last_stage: str
    returncode: int | None
    timed_out: bool
    elapsed_s: float
    stderr_tail: str

    @property
    def ok(self) -> bool:
        return bool(self.outcome and self.outcome.get("ok"))


class _Tail:
    """Keeps the last ``_TAIL_BYTES`` of a stream and every complete JSON line seen on it."""

    def __init__(self, stream: IO[bytes], *, parse_lines: bool) -> None:
        self._chunks: collections.deque[bytes] = collections.deque()
        self._size = 0
        self._parse = parse_lines
        self._partial = b""
        self.lines: list[dict[str, Any]] = []
        self._thread = threading.Thread(target=self._read, args=(stream,), daemon=True)
        self._thread.start()

    def _read(self, stream: IO[bytes]) -> None:
        for chunk in iter(lambda: stream.read1(8192), b""):
            self._chunks.append(chunk)
            self._size += len(chunk)
            while self._size > _TAIL_BYTES and len(self._chunks) > 1:
                self._size -= len(self._chunks.popleft())
            if self._parse:
                self._collect(chunk)

    def _collect(self, chunk: bytes) -> None:
        data = self._partial + chunk
        *complete, self._partial = data.split(b"\n")
        self._partial = self._partial[-_TAIL_BYTES:]
        for raw in complete:
            try:
                line = json.loads(raw)
            except ValueError:
                continue
            if isinstance(line, dict) and len(self.lines) < 100:
                self.lines.append(line)

    def join(self, timeout: float) -> None:
        self._thread.join(timeout)

    def text(self) -> str:
        return b"".join(self._chunks)[-_TAIL_BYTES:].decode("utf-8", "replace")


def _child_env(home: str, *, pythonpath: str = str(ROOT), path: str | None = None) -> dict[str, str]:
    """Nothing from the control plane's environment but what Python needs: no secrets reach a model."""
    return {
        "PATH": path or os.environ.get("PATH", "/usr/bin:/bin"),
        "PYTHONPATH": pythonpath,
        "HOME": home,
        "LANG": "C.UTF-8",
        "PYTHONDONTWRITEBYTECODE": "1",
        # One thread per library: less address space reserved, and no fight with the platform for cores.
        "OMP_NUM_THREADS": "1",
        "OPENBLAS_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
        "MALLOC_ARENA_MAX": "2",
    }


def sandbox_run(*, request: SmokeRequest, limits: Limits, confined: Confinement | None = None) -> SandboxResult:
    """Run ``python -m model_runner.smoke`` on ``request`` and wait at most ``limits.timeout_s``.

    ``confined`` defaults to the ``RDV_VALIDATION_*`` settings. A sandbox that was asked for but cannot be
    built ends the validation with a report saying why: a model is never loaded unconfined instead.
    """
    confined = confined or Confinement.from_settings()
    started = time.monotonic()
    problem = confinement.sandbox_problem(confined.mode)
    if problem is not None:
        return _not_started(problem)
    with tempfile.TemporaryDirectory(prefix="rdv-validate-") as workdir:
        argv, env, request = _child_command(request, confined, Path(workdir))
        shown = confined.store and confined.mode == confinement.BWRAP and confinement.exposed(argv, confined.store)
        if shown:
            return _not_started(f"the validation sandbox is not available: it would mount {shown}, which holds "
                                f"the artifact store {confined.store}; install Python and the code outside the store")
        max_processes = confined.max_processes if confined.mode == confinement.BWRAP else 0
        payload = json.dumps({**asdict(request), "memory_mb": limits.memory_mb, "cpu_s": limits.cpu_s,
                              "max_processes": max_processes}).encode()
        process = subprocess.Popen(
            argv,
            cwd=workdir,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,  # its own process group: the timeout kills everything it started
        )
        assert process.stdin is not None and process.stdout is not None and process.stderr is not None
        stdout = _Tail(process.stdout, parse_lines=True)
        stderr = _Tail(process.stderr, parse_lines=False)
        try:
            process.stdin.write(payload)
            process.stdin.close()
        except BrokenPipeError:
            pass  # it died at once; its exit status and stderr say why
        timed_out = False
        try:
            process.wait(timeout=limits.timeout_s)
        except subprocess.TimeoutExpired:
            timed_out = True
            _kill_group(process)
        stdout.join(5)
        stderr.join(5)
    stages = [line["stage"] for line in stdout.lines if isinstance(line.get("stage"), str)]
    outcomes = [line["outcome"] for line in stdout.lines if isinstance(line.get("outcome"), dict)]
    return SandboxResult(
        outcome=None if timed_out or not outcomes else outcomes[-1],
        last_stage=stages[-1] if stages else "starting",
        returncode=_child_returncode(process.returncode, confined),
        timed_out=timed_out,
        elapsed_s=round(time.monotonic() - started, 2),
        stderr_tail=stderr.text(),
    )


def _not_started(message: str) -> SandboxResult:
    """No child was started: the report says why (``failure_explain``: "error while starting the validator")."""
    return SandboxResult(outcome={"ok": False, "stage": "starting", "kind": "error", "message": message},
                         last_stage="starting", returncode=None, timed_out=False, elapsed_s=0.0, stderr_tail="")


def _child_command(
    request: SmokeRequest, confined: Confinement, workdir: Path
) -> tuple[list[str], dict[str, str], SmokeRequest]:
    """The command line, its environment, and the request as the child must see it (its artifact's path)."""
    command = ["-m", SMOKE_MODULE]
    if confined.mode == confinement.NONE:
        pythonpath = os.pathsep.join([str(ROOT), *([str(confined.probe_dir)] if confined.probe_dir else [])])
        return [sys.executable, *command], _child_env(workdir.as_posix(), pythonpath=pythonpath), request
    # A private, read-only copy: the store's directory is never mounted, and the copy is readable by the
    # sandbox's user whatever the store's permissions are.
    copy = workdir / "artifact"
    shutil.copyfile(request.artifact, copy)
    copy.chmod(0o444)
    pythonpath = os.pathsep.join([confinement.CODE_ROOT, *([confinement.PROBE_ROOT] if confined.probe_dir else [])])
    inside_env = _child_env("/tmp", pythonpath=pythonpath, path="/usr/local/bin:/usr/bin:/bin")
    argv = confinement.bwrap_argv(
        bwrap=confinement.bwrap_executable() or confinement.BWRAP,
        artifact=copy,
        code_root=ROOT,
        env=inside_env,
        command=[str(confinement.interpreter()), *command],
        probe_dir=confined.probe_dir,
        as_root=os.geteuid() == 0,
    )
    # bwrap itself gets only a PATH; what the child sees is set by --clearenv/--setenv above.
    return argv, {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"}, dataclasses.replace(
        request, artifact=confinement.ARTIFACT_PATH
    )


def _child_returncode(code: int | None, confined: Confinement) -> int | None:
    """bwrap reports a child killed by signal N as exit status 128 + N; say it as Popen would (-N)."""
    if confined.mode == confinement.BWRAP and code is not None and 128 < code < 128 + 65:
        return -(code - 128)
    return code


def _kill_group(process: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait(10)


def _stderr_excerpt(text: str, lines: int = 8) -> str:
    kept = [line for line in text.strip().splitlines() if line.strip()][-lines:]
    return "\n".join(line[:300] for line in kept)


def failure_explain(result: SandboxResult, limits: Limits) -> str:
    """A sentence a user can act on for a child that did not pass (``result.ok`` is false)."""
    where = _STAGES.get(result.last_stage, result.last_stage)
    if result.timed_out:
        return (
            f"timeout: validation did not finish within {limits.timeout_s:g} s (RDV_VALIDATION_TIMEOUT_S) "
            f"while {where}; the validator process was killed"
        )
    outcome = result.outcome
    if outcome is not None:
        stage = _STAGES.get(outcome.get("stage", ""), outcome.get("stage", ""))
        message = outcome.get("message") or "no details"
        if outcome.get("kind") == "memory":
            return (
                f"memory limit: {stage} needed more than the {limits.memory_mb} MB allowed "
                f"(RDV_VALIDATION_MEMORY_MB): {message}"
            )
        return f"error while {stage}: {message}"
    code = result.returncode
    if code is not None and code < 0:
        signum = -code
        if signum == signal.SIGXCPU:
            return (
                f"CPU limit: {where} used more than {limits.cpu_s} s of CPU time (RDV_VALIDATION_CPU_S); "
                f"the validator process was stopped by {signal.Signals(signum).name}"
            )
        if signum == signal.SIGSEGV:
            return (
                f"the validator process crashed (SIGSEGV) while {where}; a native library failing to allocate "
                f"under the {limits.memory_mb} MB memory limit (RDV_VALIDATION_MEMORY_MB) ends this way"
            )
        reason = f"was killed by {signal.Signals(signum).name}"
        if signum == signal.SIGKILL:
            reason += " (the system's out-of-memory killer ends processes this way)"
    else:
        reason = f"exited with status {code}"
    excerpt = _stderr_excerpt(result.stderr_tail)
    return f"the validator process {reason} while {where}" + (f":\n{excerpt}" if excerpt else "")
