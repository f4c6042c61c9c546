"""The smoke-test protocol between the control plane's validator and ``python -m model_runner.smoke``.

The control plane starts the smoke test in a (sandboxed) child process for every uploaded version
(DESIGN.md §5): one JSON request on stdin (:class:`SmokeRequest` fields); progress and the outcome
are JSON lines on stdout: ``{"stage": "loading"}``, ``{"stage": "predicting"}``, then one final
``{"outcome": {...}}`` (:class:`SmokeOutcome`). Defined here, in the contract, so that the control
plane never imports the runner.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

# The module the validator runs as ``python -m``.
SMOKE_MODULE = "model_runner.smoke"
# Rows scored in the smoke prediction: the runner scores micro-batches, so a model must handle more than one.
SMOKE_ROWS = 2


@dataclass(frozen=True, slots=True)
class SmokeRequest:
    artifact: str
    format: str
    model: str
    version: int
    sha256: str
    features: list[str]
    example: dict[str, Any]
    # Address space the load may take beyond what the validator needed after its imports.
    memory_mb: int
    # CPU seconds the load and the prediction may take beyond the validator's start-up.
    cpu_s: int
    # RLIMIT_NPROC once the imports are done (0: unchanged); set when the child runs in the sandbox.
    max_processes: int = 0
    # Test settings only: ``module:callable`` of the sandbox probe, called instead of loading a model.
    probe: str = ""


@dataclass(frozen=True, slots=True)
class SmokeOutcome:
    ok: bool
    # ``loading``, ``predicting`` or ``checking``: where it stopped, or ``done``.
    stage: str
    # ``refused`` (unsafe or unreadable), ``memory`` (the address-space limit), ``error`` otherwise.
    kind: str = ""
    message: str = ""
    model_type: str = ""
    output: Any = None
    load_ms: float = 0.0
    predict_ms: float = 0.0
    peak_rss_mb: float = 0.0
    details: dict[str, Any] = field(default_factory=dict)


def example_problem(features: Sequence[str], example: Any) -> str | None:
    """Why ``metadata`` cannot drive a smoke prediction, or None; checked before any process starts."""
    if not features:
        return "metadata.features is empty: the runner needs the input names in column order"
    if not isinstance(example, Mapping) or not example:
        return "metadata.example is missing: an inputs object is needed for the smoke prediction"
    missing = [name for name in features if name not in example]
    if missing:
        return f"metadata.example lacks feature(s) {', '.join(missing)}"
    wrong = [name for name in features if not _is_number(example[name])]
    if wrong:
        return f"metadata.example has non-numeric value(s) for {', '.join(wrong)}"
    return None


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)
