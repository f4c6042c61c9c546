"""Registering versions: numbered per model, hashed, and only ``ready`` once a safe load and a smoke
prediction passed. Pickles are never loaded."""

from __future__ import annotations

import hashlib
import io
import pickle
from pathlib import Path

import pytest
from django.core.files import File
from django.core.files.base import ContentFile

from controlplane.errors import InvalidInput
from controlplane.registry.models import ModelVersion
from controlplane.registry.services import version_create
from tests.controlplane.conftest import FEATURES, IRIS_METADATA
from tests.factories import ModelFactory

pytestmark = pytest.mark.django_db
Status = ModelVersion.Status


def _create(path: Path, *, fmt: str = "skops", metadata: dict | None = None, model=None) -> ModelVersion:  # noqa: ANN001
    with path.open("rb") as handle:
        return version_create(
            model=model or ModelFactory(),
            artifact_file=File(handle, name=path.name),
            format=fmt,
            metadata=IRIS_METADATA if metadata is None else metadata,
        )


def test_a_skops_classifier_becomes_ready_with_hash_size_and_report(iris_skops_path: Path) -> None:
    version = _create(iris_skops_path)

    data = iris_skops_path.read_bytes()
    assert version.status == Status.READY, version.report
    assert version.sha256 == hashlib.sha256(data).hexdigest() and version.size == len(data)
    assert "LogisticRegression" in version.report and "smoke prediction" in version.report
    assert version.artifact.read() == data


def test_versions_are_numbered_per_model(iris_skops_path: Path) -> None:
    model = ModelFactory()
    numbers = [_create(iris_skops_path, model=model).number for _ in range(3)]
    other = _create(iris_skops_path)

    assert numbers == [1, 2, 3] and other.number == 1


def test_pickle_formats_are_refused_without_being_loaded(tmp_path: Path) -> None:
    class Boom:
        def __reduce__(self):  # noqa: ANN204 - runs only if someone unpickles it
            return (Path(tmp_path / "pwned").touch, ())

    path = tmp_path / "model.joblib"
    path.write_bytes(pickle.dumps(Boom()))

    version = _create(path, fmt="joblib")

    assert version.status == Status.FAILED
    assert "only accepted for trusted pools" in version.report
    assert not (tmp_path / "pwned").exists()


def test_a_pickle_uploaded_as_skops_fails_with_a_report(tmp_path: Path) -> None:
    path = tmp_path / "model.skops"
    path.write_bytes(pickle.dumps({"weights": [1, 2, 3]}))

    version = _create(path)

    assert version.status == Status.FAILED
    assert "not a readable skops file" in version.report


def test_a_skops_file_with_foreign_types_is_refused(tmp_path: Path) -> None:
    import operator

    import skops.io
    from sklearn.preprocessing import FunctionTransformer

    path = tmp_path / "sneaky.skops"
    skops.io.dump(FunctionTransformer(func=operator.neg), path)

    version = _create(path)

    assert version.status == Status.FAILED
    assert "outside scikit-learn/NumPy" in version.report and "neg" in version.report


def test_an_example_missing_a_feature_fails_the_smoke_prediction(iris_skops_path: Path) -> None:
    version = _create(iris_skops_path, metadata={"features": FEATURES, "example": {"sepal_length": 1.0}})

    assert version.status == Status.FAILED
    assert "lacks feature(s) sepal_width" in version.report


def test_an_onnx_model_is_validated_with_onnxruntime(tmp_path: Path) -> None:
    from skl2onnx import to_onnx
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression

    features, labels = load_iris(return_X_y=True)
    model = LogisticRegression(max_iter=500).fit(features.astype("float32"), labels)
    path = tmp_path / "iris.onnx"
    path.write_bytes(to_onnx(model, features[:1].astype("float32")).SerializeToString())

    version = _create(path, fmt="onnx")

    assert version.status == Status.READY, version.report
    assert "ONNX" in version.report


def test_a_broken_onnx_file_fails_with_a_report(tmp_path: Path) -> None:
    path = tmp_path / "broken.onnx"
    path.write_bytes(b"\x08\x07garbage")

    version = _create(path, fmt="onnx")

    assert version.status == Status.FAILED and "not a loadable ONNX model" in version.report


def test_bad_metadata_or_format_is_invalid_input() -> None:
    model = ModelFactory()
    with pytest.raises(InvalidInput):
        version_create(model=model, artifact_file=ContentFile(b"x", name="a"), format="pt", metadata={})
    with pytest.raises(InvalidInput):
        version_create(
            model=model, artifact_file=ContentFile(b"x", name="a"), format="skops", metadata={"features": "x"}
        )
    with pytest.raises(InvalidInput):
        version_create(
            model=model, artifact_file=File(io.BytesIO(b""), name="a"), format="skops", metadata={}
        )
