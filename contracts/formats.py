"""Artifact formats, and which of them run code when loaded: the one definition every process imports.

Django-free (the control plane, the validator child and the runners all import it). ``SAFE_FORMATS``
load without running the artifact's code (``skops`` through an allow-list of classes, see
``model_runner.skops_allowlist``; ``onnx`` without external data, see ``model_runner.onnx_check``).
``CODE_FORMATS`` run code when loaded: only tenants the operator trusts may upload them, the control
plane never loads them, and only runners of trusted pools do, after a static scan of their pickle
(``contracts.pickle_scan``).
"""

from __future__ import annotations

from typing import Literal, get_args

Format = Literal["onnx", "skops", "joblib", "pickle", "python"]

ALL_FORMATS: tuple[Format, ...] = get_args(Format)
SAFE_FORMATS: frozenset[Format] = frozenset({"skops", "onnx"})
CODE_FORMATS: frozenset[Format] = frozenset({"joblib", "pickle", "python"})
# The code formats that are pickles (``python`` names a callable in the runner's own code instead).
PICKLE_FORMATS: frozenset[Format] = frozenset({"joblib", "pickle"})


def is_code_format(format: str) -> bool:
    return format.lower() in CODE_FORMATS


def is_safe_format(format: str) -> bool:
    return format.lower() in SAFE_FORMATS
