"""Smoke-test a version before it may be deployed: load the artifact safely and score its example.

Safety first: pickle-based formats are never loaded here (a tenant can never get a pickle loaded),
and a skops file is only loaded when every type it would instantiate is a scikit-learn or NumPy type.
"""

from __future__ import annotations

import fnmatch
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from controlplane.registry.models import ModelVersion

Status = ModelVersion.Status
# Types a skops artifact may instantiate; anything else (builtins, os, user code) fails validation.
SKOPS_TRUSTED_PATTERNS: tuple[str, ...] = ("sklearn.*", "numpy.*")
PICKLE_REFUSED = (
    "pickle/python formats are only accepted for trusted pools; they are never loaded for validation"
)


class ValidationFailed(Exception):
    """A readable reason the version cannot serve; becomes the version's report."""


def _example_row(version: ModelVersion) -> np.ndarray:
    features = version.features
    example = version.metadata.get("example")
    if not features:
        raise ValidationFailed("metadata.features is empty: the runner needs the input names in column order")
    if not isinstance(example, dict) or not example:
        raise ValidationFailed(
            "metadata.example is missing: an inputs object is needed for the smoke prediction"
        )
    missing = [name for name in features if name not in example]
    if missing:
        raise ValidationFailed(f"metadata.example lacks feature(s) {', '.join(missing)}")
    try:
        return np.array([[float(example[name]) for name in features]], dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValidationFailed(f"metadata.example has a non-numeric feature value: {exc}") from exc


def _describe(value: Any) -> str:
    text = np.array2string(np.asarray(value), precision=4, threshold=8) if value is not None else "None"
    return text if len(text) <= 200 else text[:197] + "..."


def _validate_skops(version: ModelVersion, path: str) -> str:
    import skops.io

    try:
        untrusted = skops.io.get_untrusted_types(file=path)
    except Exception as exc:  # a zip that is not a skops file, or not a zip at all
        raise ValidationFailed(f"not a readable skops file: {type(exc).__name__}: {exc}") from exc
    refused = [
        name for name in untrusted if not any(fnmatch.fnmatch(name, p) for p in SKOPS_TRUSTED_PATTERNS)
    ]
    if refused:
        raise ValidationFailed(
            f"skops file uses types outside scikit-learn/NumPy: {', '.join(sorted(refused))}"
        )
    try:
        estimator = skops.io.load(path, trusted=untrusted)
    except Exception as exc:
        raise ValidationFailed(f"skops load failed: {type(exc).__name__}: {exc}") from exc
    if not hasattr(estimator, "predict"):
        raise ValidationFailed(f"the loaded object ({type(estimator).__name__}) has no predict()")
    row = _example_row(version)
    started = time.perf_counter()
    try:
        prediction = estimator.predict(row)
    except Exception as exc:
        raise ValidationFailed(f"smoke prediction failed: {type(exc).__name__}: {exc}") from exc
    elapsed_ms = (time.perf_counter() - started) * 1000
    return (
        f"loaded skops {type(estimator).__name__}; smoke prediction on metadata.example → "
        f"{_describe(prediction)} in {elapsed_ms:.1f} ms"
    )


def _validate_onnx(version: ModelVersion, path: str) -> str:
    import onnxruntime

    try:
        session = onnxruntime.InferenceSession(path, providers=["CPUExecutionProvider"])
    except Exception as exc:
        raise ValidationFailed(f"not a loadable ONNX model: {type(exc).__name__}: {exc}") from exc
    inputs = session.get_inputs()
    if len(inputs) != 1:
        names = ", ".join(i.name for i in inputs)
        raise ValidationFailed(
            f"the ONNX model must have exactly one input (the feature row), it has: {names}"
        )
    dtype = np.float64 if inputs[0].type == "tensor(double)" else np.float32
    row = _example_row(version).astype(dtype)
    started = time.perf_counter()
    try:
        outputs = session.run(None, {inputs[0].name: row})
    except Exception as exc:
        raise ValidationFailed(f"smoke prediction failed: {type(exc).__name__}: {exc}") from exc
    elapsed_ms = (time.perf_counter() - started) * 1000
    described = "; ".join(
        f"{meta.name}={_describe(value) if not isinstance(value, list) else str(value)[:200]}"
        for meta, value in zip(session.get_outputs(), outputs, strict=False)
    )
    return f"loaded ONNX model; smoke prediction on metadata.example → {described} in {elapsed_ms:.1f} ms"


_VALIDATORS: dict[str, Callable[[ModelVersion, str], str]] = {
    ModelVersion.Format.SKOPS: _validate_skops,
    ModelVersion.Format.ONNX: _validate_onnx,
}


def version_validate(*, version: ModelVersion) -> ModelVersion:
    """Move the version to ``ready`` or ``failed`` with a report a user can act on.

    Runs in-process for now; DESIGN.md §5 asks for a separate process, which comes with the Celery task.
    """
    version.status = Status.VALIDATING
    version.save(update_fields=["status"])
    validator = _VALIDATORS.get(version.format)
    try:
        if validator is None:
            raise ValidationFailed(PICKLE_REFUSED)
        report = validator(version, version.artifact.path)
    except ValidationFailed as exc:
        version.status, version.report = Status.FAILED, str(exc)
    except Exception as exc:  # never leave a version stuck in "validating"
        version.status, version.report = Status.FAILED, f"validation crashed: {type(exc).__name__}: {exc}"
    else:
        version.status, version.report = Status.READY, report
    version.save(update_fields=["status", "report"])
    return version
