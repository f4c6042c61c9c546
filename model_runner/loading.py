"""Loading model artifacts safely and scoring them in micro-batches with one output shape.

Only formats that cannot run arbitrary code on load are accepted everywhere (``contracts.formats``:
``skops`` audited against an explicit allow-list of classes, ``model_runner.skops_allowlist``; ``onnx``
without external data, ``model_runner.onnx_check``); ``joblib``/pickle/``python`` load only in a runner
whose operator marked its pool trusted (``RDV_RUNNER_TRUSTED=1``, see ``model_runner.trusted``).
Outputs are normalised so the rendezvous and the API compare models without knowing their library.
"""

from __future__ import annotations

import json
import logging
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from contracts.config import DeploymentSpec
from contracts.formats import CODE_FORMATS

log = logging.getLogger(__name__)

Row = Mapping[str, Any]


class ModelLoadError(RuntimeError):
    """The artifact is refused or cannot be loaded; the version yields error scores with this text."""


@dataclass(frozen=True, slots=True)
class RowError:
    """One row could not be scored (e.g. a missing feature); the other rows of its batch still are."""

    message: str


class _InvalidRow(ValueError):
    pass


Prediction = dict[str, Any] | RowError


def to_python(value: Any) -> Any:
    """Plain Python values, so msgspec encodes them and labels compare equal across runners."""
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return value


class LoadedModel(ABC):
    """A loaded version; ``predict_batch`` is called once per version for a whole micro-batch."""

    # Memory outside Python's view (an ONNX Runtime session), counted in the version's resident size.
    native_bytes: int = 0
    # How long the runner's loader took to fetch the artifact (download or cache hit), for the load log.
    fetch_ms: float = 0.0

    def __init__(self, spec: DeploymentSpec, features: Sequence[str], dtype: type[np.floating]) -> None:
        if not features:
            raise ModelLoadError(
                f"{spec.model} v{spec.version}: no features in the version metadata and the model does "
                "not name its inputs"
            )
        self.spec = spec
        self.features = tuple(features)
        self._dtype = dtype

    def predict_batch(self, rows: Sequence[Row]) -> list[Prediction]:
        matrix, positions, predictions = self._matrix(rows)
        if positions:
            for position, output in zip(positions, self._predict(matrix), strict=True):
                predictions[position] = output
        return predictions

    def _matrix(self, rows: Sequence[Row]) -> tuple[np.ndarray, list[int], list[Prediction]]:
        """The float matrix of the valid rows; invalid rows get their RowError in place."""
        predictions: list[Prediction] = [RowError("not scored")] * len(rows)
        values: list[list[float]] = []
        positions: list[int] = []
        features = self.features
        for position, row in enumerate(rows):
            try:
                # Fast path: plain lookups; the type check below runs over the whole row at once.
                row_values = [row[name] for name in features]
                if not all(type(v) is float or type(v) is int for v in row_values):
                    row_values = [_number(row, name) for name in features]
            except (KeyError, _InvalidRow):
                predictions[position] = RowError(_row_problem(row, features))
                continue
            values.append(row_values)
            positions.append(position)
        matrix = np.asarray(values, dtype=self._dtype).reshape(len(values), len(features))
        return matrix, positions, predictions

    @abstractmethod
    def _predict(self, matrix: np.ndarray) -> list[dict[str, Any]]: ...


def _row_problem(row: Row, features: Sequence[str]) -> str:
    for name in features:
        try:
            _number(row, name)
        except _InvalidRow as exc:
            return str(exc)
    return "invalid row"


def _number(row: Row, name: str) -> float:
    try:
        value = row[name]
    except KeyError:
        raise _InvalidRow(f"missing feature {name!r}") from None
    if isinstance(value, (int, float)):
        return float(value)
    raise _InvalidRow(f"feature {name!r} must be a number, got {type(value).__name__}")


class SklearnModel(LoadedModel):
    def __init__(self, spec: DeploymentSpec, estimator: Any) -> None:
        names = spec.features or tuple(getattr(estimator, "feature_names_in_", ()))
        super().__init__(spec, [str(n) for n in names], np.float64)
        self._estimator = estimator
        self._classes = getattr(estimator, "classes_", None)
        self._has_proba = self._classes is not None and hasattr(estimator, "predict_proba")

    def _predict(self, matrix: np.ndarray) -> list[dict[str, Any]]:
        if self._has_proba:
            proba = np.asarray(self._estimator.predict_proba(matrix))
            if proba.ndim == 2 and proba.shape[1] == len(self._classes):
                # The label is the arg-max of the probabilities shown, so one call serves both.
                labels = [to_python(c) for c in self._classes]
                keys = [str(label) for label in labels]
                winners = np.argmax(proba, axis=1).tolist()
                return [
                    {"label": labels[winner], "probabilities": dict(zip(keys, row, strict=True))}
                    for winner, row in zip(winners, proba.astype(np.float64).tolist(), strict=True)
                ]
        predicted = self._estimator.predict(matrix)
        if self._classes is not None:
            return [{"label": label} for label in to_python(np.asarray(predicted))]
        return [{"value": value} for value in to_python(np.asarray(predicted))]


class OnnxModel(LoadedModel):
    def __init__(self, spec: DeploymentSpec, session: Any) -> None:
        inputs = session.get_inputs()
        if len(inputs) != 1:
            raise ModelLoadError(
                f"{spec.model} v{spec.version}: ONNX model has {len(inputs)} inputs; one float matrix "
                "input is supported"
            )
        dtype = np.float64 if inputs[0].type == "tensor(double)" else np.float32
        super().__init__(spec, spec.features, dtype)
        self._session = session
        self._input = inputs[0].name
        self._outputs = [o.name for o in session.get_outputs()]
        self._classifier = {"label", "probabilities"} <= set(self._outputs)
        self._class_keys = _metadata_classes(session)

    def _predict(self, matrix: np.ndarray) -> list[dict[str, Any]]:
        results = dict(zip(self._outputs, self._session.run(None, {self._input: matrix}), strict=True))
        if self._classifier:
            return self._classified(results["label"], results["probabilities"])
        return [
            {name: to_python(value[i]) for name, value in results.items()} for i in range(matrix.shape[0])
        ]

    def _classified(self, labels: Any, probabilities: Any) -> list[dict[str, Any]]:
        labels = to_python(labels) if isinstance(labels, np.ndarray) else [to_python(v) for v in labels]
        if isinstance(probabilities, np.ndarray):
            rows = probabilities.astype(np.float64).tolist()
            keys = self._class_keys or [str(i) for i in range(probabilities.shape[1])]
            probs = [dict(zip(keys, row, strict=True)) for row in rows]
        else:  # a ZipMap output: a list of maps already keyed by class
            probs = [{str(k): float(v) for k, v in row.items()} for row in probabilities]
        return [{"label": label, "probabilities": p} for label, p in zip(labels, probs, strict=True)]


def _metadata_classes(session: Any) -> list[str] | None:
    """Class labels from the ONNX metadata ``classes`` (a JSON list or comma-separated), if given."""
    raw = session.get_modelmeta().custom_metadata_map.get("classes")
    if not raw:
        return None
    try:
        parsed = json.loads(raw)
    except ValueError:
        parsed = raw.split(",")
    return [str(c).strip() for c in parsed] if isinstance(parsed, list) else None


def load_model(spec: DeploymentSpec, path: Path, *, trusted: bool = False) -> LoadedModel:
    """The loaded version; ``trusted`` is the runner's pool setting, never anything a tenant sends."""
    fmt = spec.format.lower()
    if fmt in CODE_FORMATS:
        if not trusted:
            raise ModelLoadError(
                f"{spec.model} v{spec.version}: format {fmt!r} can run arbitrary code when loaded and needs "
                f"a trusted pool; pool {spec.pool!r} is not marked trusted on this runner "
                "(RDV_RUNNER_TRUSTED), which loads only 'skops' and 'onnx'"
            )
        from model_runner.trusted import load_trusted  # it builds on the classes of this module

        return load_trusted(spec, path)
    if fmt == "skops":
        return SklearnModel(spec, _load_skops(path))
    if fmt == "onnx":
        model = OnnxModel(spec, _onnx_session(path))
        model.native_bytes = path.stat().st_size
        return model
    raise ModelLoadError(f"{spec.model} v{spec.version}: unknown artifact format {spec.format!r}")


def warm_imports() -> None:
    """Import the libraries of the common formats once, so the first load does not pay for them."""
    import sklearn.ensemble  # noqa: F401
    import sklearn.linear_model  # noqa: F401
    import sklearn.pipeline  # noqa: F401
    import skops.io  # noqa: F401

    from model_runner.skops_allowlist import allowed_functions, allowed_types

    allowed_types(), allowed_functions()


def _load_skops(path: Path) -> Any:
    """Two audits must pass: ours over every node of the schema, and skops' own report of what it does
    not trust by default (each reported type must be on our list too, so skops' defaults never widen it)."""
    import skops.io

    from model_runner.skops_allowlist import allowed_functions, allowed_types, skops_file_refusals

    try:
        refused = skops_file_refusals(path)
        untrusted = skops.io.get_untrusted_types(file=path)
    except Exception as exc:  # a corrupt or non-skops file
        raise ModelLoadError(f"not a readable skops file: {exc}") from exc
    allowed = allowed_types() | allowed_functions()
    refused = sorted(set(refused) | {t for t in untrusted if t not in allowed})
    if refused:
        raise ModelLoadError(
            f"skops file refused: untrusted types {', '.join(refused)} (a skops model may hold only the "
            "allow-listed scikit-learn classes, and no functions)"
        )
    try:
        estimator = skops.io.load(path, trusted=untrusted)
    except Exception as exc:
        raise ModelLoadError(f"skops load failed: {exc}") from exc
    from model_runner.tree_check import trees_problem

    problem = trees_problem(estimator)
    if problem:
        raise ModelLoadError(f"skops file refused: {problem}")
    return estimator


def _onnx_session(path: Path) -> Any:
    import onnxruntime

    from model_runner.onnx_check import onnx_file_refusals

    try:
        refused = onnx_file_refusals(path)
    except ValueError as exc:
        raise ModelLoadError(f"onnx load failed: {exc}") from exc
    if refused:
        raise ModelLoadError(f"onnx file refused: {'; '.join(refused)}")
    options = onnxruntime.SessionOptions()
    # Many versions share a few cores; one thread each keeps them from fighting over them.
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    try:
        return onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    except Exception as exc:
        raise ModelLoadError(f"onnx load failed: {exc}") from exc
