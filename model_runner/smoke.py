"""The smoke test a version passes before it may be deployed, run as ``python -m model_runner.smoke``.

The control plane starts this module in a child process for every uploaded version (DESIGN.md §5):
it loads the artifact with the runner's own ``load_model`` — so a version that validates is one a
runner can load — scores ``metadata.example`` as a micro-batch of two rows, and checks the outputs
have the shape runners publish. A hostile or broken artifact can only hurt this child: it runs
under an address-space (``RLIMIT_AS``) and CPU-time (``RLIMIT_CPU``) limit, and the parent kills it
at a wall-clock timeout.

Protocol (``contracts.smoke``): one JSON request on stdin (:class:`SmokeRequest` fields). Progress and the outcome are
JSON lines on stdout: ``{"stage": "loading"}``, ``{"stage": "predicting"}``, then one final
``{"outcome": {...}}`` (:class:`SmokeOutcome`). Exit status 0 means the outcome line was written,
whether the version passed or not; anything else (a signal from a limit, a crash) is for the
parent to explain. Django-free: it imports only the runner and the format's library.
"""

from __future__ import annotations

import importlib
import json
import math
import resource
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

from contracts.formats import SAFE_FORMATS
from contracts.smoke import SMOKE_ROWS, SmokeOutcome, SmokeRequest

# Imported before the limits apply, so the limits measure the model rather than the validator itself.
_FORMAT_IMPORTS = {"skops": ("skops.io", "sklearn"), "onnx": ("onnxruntime",)}
_ALLOCATION_FAILURES = ("bad_alloc", "bad allocation", "Failed to allocate", "Unable to allocate")


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def output_problem(outputs: Sequence[Any], rows: int) -> str | None:
    """Why the outputs are not what runners publish (one JSON object per row, finite numbers), or None."""
    from model_runner.loading import RowError

    if len(outputs) != rows:
        return f"the model answered {len(outputs)} output(s) for {rows} rows"
    for output in outputs:
        if isinstance(output, RowError):
            return f"the example row could not be scored: {output.message}"
        if not isinstance(output, dict) or not output:
            return f"the output is {type(output).__name__} {output!r:.80}, not a non-empty object"
        try:
            json.dumps(output, allow_nan=False)
        except ValueError:
            return f"the output holds NaN or infinity: {_short(output)}"
        except TypeError as exc:
            return f"the output is not JSON: {exc}"
        if "value" in output and not _is_number(output["value"]):
            return f"a regressor's value must be a number, got {_short(output['value'])}"
    return None


def _short(value: Any, limit: int = 300) -> str:
    try:
        text = json.dumps(value, sort_keys=True, default=repr)
    except ValueError:
        text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _address_space_bytes() -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmSize:"):
                return int(line.split()[1]) * 1024
    return 0


def limits_apply(*, memory_mb: int, cpu_s: int, max_processes: int = 0) -> None:
    """Cap this process from here on: its current address space + ``memory_mb``, CPU used + ``cpu_s``.

    The CPU limit's soft value sends SIGXCPU (which terminates), the hard one a second later SIGKILL.
    ``max_processes`` caps the processes and threads of this user (in the sandbox, only the sandbox's).
    """
    if max_processes > 0:
        resource.setrlimit(resource.RLIMIT_NPROC, (max_processes, max_processes))
    ceiling = _address_space_bytes() + memory_mb * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (ceiling, ceiling))
    usage = resource.getrusage(resource.RUSAGE_SELF)
    used = math.ceil(usage.ru_utime + usage.ru_stime)
    resource.setrlimit(resource.RLIMIT_CPU, (used + cpu_s, used + cpu_s + 1))


def _is_allocation_failure(exc: BaseException) -> bool:
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, MemoryError) or any(text in str(current) for text in _ALLOCATION_FAILURES):
            return True
        current = current.__cause__ or current.__context__
    return False


def _failure(stage: str, exc: BaseException, timings: dict[str, float]) -> SmokeOutcome:
    from model_runner.loading import ModelLoadError

    if _is_allocation_failure(exc):
        kind = "memory"
    elif isinstance(exc, ModelLoadError):
        kind = "refused"
    else:
        kind = "error"
    message = str(exc) if isinstance(exc, ModelLoadError) else f"{type(exc).__name__}: {exc}"
    return SmokeOutcome(ok=False, stage=stage, kind=kind, message=message[:2000], peak_rss_mb=_peak_rss_mb(),
                        **timings)


def _peak_rss_mb() -> float:
    """VmHWM, not ``ru_maxrss``: the latter survives ``exec`` and would report the parent's size."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024, 1)
    return 0.0


def _model_type(loaded: Any) -> str:
    # The runner keeps the estimator private; its class name is what a user recognises in the report.
    inner = getattr(loaded, "_estimator", None)
    return type(inner).__name__ if inner is not None else "model"


def smoke_test(request: SmokeRequest, emit: Any = None) -> SmokeOutcome:
    """Load and score the artifact in this process; ``emit`` receives each stage as it starts."""
    from contracts.config import DeploymentSpec
    from model_runner.loading import load_model

    say = emit or (lambda _stage: None)
    spec = DeploymentSpec(
        model=request.model,
        version=request.version,
        role="champion",
        format=request.format,
        sha256=request.sha256,
        artifact_url=Path(request.artifact).as_uri(),
        features=tuple(request.features),
    )
    timings: dict[str, float] = {}
    say("loading")
    started = time.perf_counter()
    try:
        loaded = load_model(spec, Path(request.artifact))
    except BaseException as exc:  # noqa: BLE001 - MemoryError included: the report says which limit
        return _failure("loading", exc, timings)
    timings["load_ms"] = round((time.perf_counter() - started) * 1000, 1)
    say("predicting")
    started = time.perf_counter()
    try:
        outputs = loaded.predict_batch([dict(request.example) for _ in range(SMOKE_ROWS)])
    except BaseException as exc:  # noqa: BLE001
        return _failure("predicting", exc, timings)
    timings["predict_ms"] = round((time.perf_counter() - started) * 1000, 1)
    model_type = _model_type(loaded)
    problem = output_problem(outputs, SMOKE_ROWS)
    if problem is not None:
        return SmokeOutcome(ok=False, stage="checking", kind="error", message=problem, model_type=model_type,
                            peak_rss_mb=_peak_rss_mb(), **timings)
    return SmokeOutcome(ok=True, stage="done", model_type=model_type, output=outputs[0],
                        peak_rss_mb=_peak_rss_mb(), **timings)


def _probe_run(request: SmokeRequest) -> SmokeOutcome:
    """Test settings only: call the probe the parent named, in place of a model, and report what it returns.

    The parent sets ``probe`` only when ``RDV_VALIDATION_TEST_PROBE_DIR`` is set (never in production); the
    probe proves from inside the sandbox what a model's code could not reach.
    """
    module, _, name = request.probe.partition(":")
    try:
        report = getattr(importlib.import_module(module), name)(Path(request.artifact))
    except BaseException as exc:  # noqa: BLE001 - the report says what the probe hit
        return SmokeOutcome(ok=False, stage="loading", kind="error", message=f"{type(exc).__name__}: {exc}"[:2000])
    return SmokeOutcome(ok=True, stage="done", model_type="sandbox probe", output=report)


def _emit(line: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(line, default=repr) + "\n")
    sys.stdout.flush()


def main() -> int:
    try:
        request = SmokeRequest(**json.loads(sys.stdin.read()))
    except (TypeError, ValueError) as exc:
        print(f"model_runner.smoke: bad request on stdin: {exc}", file=sys.stderr)
        return 2
    _emit({"stage": "starting"})
    if request.probe and request.format == "python":
        limits_apply(memory_mb=request.memory_mb, cpu_s=request.cpu_s, max_processes=request.max_processes)
        _emit({"outcome": asdict(_probe_run(request))})
        return 0
    if request.format not in SAFE_FORMATS:  # code formats are never loaded outside a trusted pool
        outcome = SmokeOutcome(ok=False, stage="loading", kind="refused",
                               message=f"format {request.format!r} is not loaded by the smoke test")
        _emit({"outcome": asdict(outcome)})
        return 0
    for module in _FORMAT_IMPORTS.get(request.format, ()):
        __import__(module)
    if request.format == "skops":  # resolving the allow-list imports the allowed estimators' modules
        from model_runner.skops_allowlist import allowed_functions, allowed_types

        allowed_types(), allowed_functions()
    limits_apply(memory_mb=request.memory_mb, cpu_s=request.cpu_s, max_processes=request.max_processes)
    outcome = smoke_test(request, emit=lambda stage: _emit({"stage": stage}))
    _emit({"outcome": asdict(outcome)})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
