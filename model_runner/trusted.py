"""Formats that run arbitrary code when loaded: only ever loaded by a runner of a trusted pool.

The operator marks a pool trusted by starting its runners with ``RDV_RUNNER_TRUSTED=1``; the control
plane never lets a tenant deploy these formats, so only the operator's own artifacts reach such a pool.

- ``joblib`` / ``pickle``: a pickled scikit-learn-like estimator (``predict``, optionally
  ``predict_proba`` and ``classes_``), scored like a skops model.
- ``python``: the artifact is a small UTF-8 text file whose first meaningful line names
  ``package.module:callable`` (the callable may be a dotted attribute path). The module is imported
  from the runner's ``PYTHONPATH``: the code ships with the runner's image, the artifact only points at
  it. The callable receives the micro-batch as a list of plain dicts (inputs + external state, one per
  request) and returns one output per row, in order. Each output is normalised: a mapping is the
  output as is (NumPy values made plain); a number becomes ``{"value": n}``; a string or bool
  ``{"label": v}``; ``None`` or an exception instance fails that row only.
"""

from __future__ import annotations

import importlib
import pickle
import re
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from contracts.config import DeploymentSpec
from contracts.formats import CODE_FORMATS, PICKLE_FORMATS
from contracts.pickle_scan import PickleRefused, pickle_file_refusals, pickle_report
from model_runner.loading import LoadedModel, ModelLoadError, Prediction, Row, RowError, SklearnModel, to_python

_TARGET = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_][\w.]*$")


def load_trusted(spec: DeploymentSpec, path: Path) -> LoadedModel:
    """Load one of ``CODE_FORMATS``; the caller has already checked that the pool is trusted.

    A pickle is scanned first (``pickle_scan``): one that references a process, file or code-running
    function is refused without being unpickled, even here.
    """
    fmt = spec.format.lower()
    if fmt not in CODE_FORMATS:
        raise ModelLoadError(f"{spec.model} v{spec.version}: {fmt!r} is not a code format")
    if fmt == "python":
        return PythonModel(spec, resolve_callable(python_target(path)))
    if fmt in PICKLE_FORMATS:
        pickle_check(path, fmt)
    try:
        if fmt == "joblib":
            import joblib

            estimator = joblib.load(path)
        else:
            with path.open("rb") as handle:
                estimator = pickle.load(handle)  # noqa: S301 - trusted pool only, by the operator's choice
    except Exception as exc:
        raise ModelLoadError(f"{fmt} load failed: {type(exc).__name__}: {exc}") from exc
    if not callable(getattr(estimator, "predict", None)):
        raise ModelLoadError(f"{fmt} artifact holds a {type(estimator).__name__}, which has no predict()")
    return SklearnModel(spec, estimator)


def pickle_check(path: Path, fmt: str) -> None:
    """Refuse (ModelLoadError, with the report) a pickle whose static scan finds what a model may not import."""
    try:
        refused = pickle_file_refusals(path)
    except PickleRefused as exc:
        raise ModelLoadError(f"{fmt} file refused without loading it: {exc}") from exc
    except OSError as exc:
        raise ModelLoadError(f"{fmt} file cannot be read: {exc}") from exc
    if refused:
        raise ModelLoadError(f"{fmt} file refused without loading it: {pickle_report(refused)}")


def python_target(path: Path) -> str:
    """The ``module:callable`` a ``python`` artifact names (blank lines and ``#`` comments skipped)."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ModelLoadError(f"python artifact is not a readable UTF-8 text file: {exc}") from exc
    lines = [line.strip() for line in text.splitlines()]
    meaningful = [line for line in lines if line and not line.startswith("#")]
    if len(meaningful) != 1 or not _TARGET.match(meaningful[0]):
        raise ModelLoadError("python artifact must hold one line 'package.module:callable'")
    return meaningful[0]


def resolve_callable(target: str) -> Callable[[list[dict[str, Any]]], Sequence[Any]]:
    module_name, _, attribute = target.partition(":")
    try:
        found: Any = importlib.import_module(module_name)
    except Exception as exc:  # ImportError, or the module failing at import time
        raise ModelLoadError(f"cannot import {module_name!r}: {type(exc).__name__}: {exc}") from exc
    for part in attribute.split("."):
        try:
            found = getattr(found, part)
        except AttributeError:
            raise ModelLoadError(f"{target}: {module_name!r} has no attribute {attribute!r}") from None
    if not callable(found):
        raise ModelLoadError(f"{target} is a {type(found).__name__}, not a callable")
    return found


class PythonModel(LoadedModel):
    """A ``module:callable`` model: it sees whole rows, so it needs no feature list."""

    def __init__(self, spec: DeploymentSpec, function: Callable[[list[dict[str, Any]]], Sequence[Any]]) -> None:
        self.spec = spec
        self.features = tuple(spec.features)
        self._function = function

    def predict_batch(self, rows: Sequence[Row]) -> list[Prediction]:
        outputs = self._function([dict(row) for row in rows])
        if isinstance(outputs, np.ndarray):
            outputs = list(outputs)
        if not isinstance(outputs, Sequence) or isinstance(outputs, (str, bytes)):
            raise TypeError(f"the callable returned a {type(outputs).__name__}, not one output per row")
        if len(outputs) != len(rows):
            raise ValueError(f"the callable returned {len(outputs)} outputs for {len(rows)} rows")
        return [normalise_output(output) for output in outputs]

    def _predict(self, matrix: np.ndarray) -> list[dict[str, Any]]:
        raise NotImplementedError("python models score rows, not a matrix")


def normalise_output(output: Any) -> Prediction:
    if isinstance(output, RowError):
        return output
    if isinstance(output, BaseException):
        return RowError(f"{type(output).__name__}: {output}")
    if output is None:
        return RowError("the model returned no output for this row")
    if isinstance(output, Mapping):
        return {str(key): to_python(value) for key, value in output.items()}
    value = to_python(output)
    if isinstance(value, (bool, str)):
        return {"label": value}
    if isinstance(value, (int, float)):
        return {"value": value}
    return RowError(f"the model returned a {type(output).__name__}; expected a mapping, a number or a label")
