"""Loading is safe (no unpickling, no foreign types) and every format answers the same shapes."""

from __future__ import annotations

import os
import pickle
from pathlib import Path

import numpy as np
import onnx
import pytest
import skops.io
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer

from model_runner.loading import ModelLoadError, RowError, load_model
from tests.model_runner.factories import SavedModel


def test_skops_classifier_answers_label_and_probabilities_like_the_model(iris_classifier: SavedModel) -> None:
    model = load_model(iris_classifier.spec("skops"), iris_classifier.path)
    outputs = model.predict_batch(iris_classifier.rows(150))

    expected_labels = iris_classifier.estimator.predict(iris_classifier.X)
    expected_proba = iris_classifier.estimator.predict_proba(iris_classifier.X)
    assert [o["label"] for o in outputs] == expected_labels.tolist()
    assert all(type(o["label"]) is int for o in outputs)
    assert outputs[0]["probabilities"] == pytest.approx(dict(zip("012", expected_proba[0], strict=True)))


def test_skops_regressor_answers_value(diabetes_regressor: SavedModel) -> None:
    model = load_model(diabetes_regressor.spec("skops"), diabetes_regressor.path)
    outputs = model.predict_batch(diabetes_regressor.rows(5))

    expected = diabetes_regressor.estimator.predict(diabetes_regressor.X[:5])
    assert [o["value"] for o in outputs] == pytest.approx(expected.tolist())
    assert all(type(o["value"]) is float for o in outputs)


def test_string_labels_stay_strings(model_dir: Path) -> None:
    X, y = load_iris(return_X_y=True)
    names = np.array(["setosa", "versicolor", "virginica"])[y]
    path = model_dir / "iris-named.skops"
    skops.io.dump(LogisticRegression(max_iter=500).fit(X, names), path)
    saved = SavedModel(None, path, ("a", "b", "c", "d"), X)

    [output] = load_model(saved.spec("skops"), path).predict_batch(saved.rows(1))

    assert output["label"] == "setosa"
    assert set(output["probabilities"]) == {"setosa", "versicolor", "virginica"}


def test_onnx_classifier_answers_the_classifier_shape(iris_onnx: SavedModel) -> None:
    model = load_model(iris_onnx.spec("onnx"), iris_onnx.path)
    outputs = model.predict_batch(iris_onnx.rows(150))

    assert [o["label"] for o in outputs] == iris_onnx.estimator.predict(iris_onnx.X).tolist()
    expected_proba = iris_onnx.estimator.predict_proba(iris_onnx.X[:1])[0]
    assert outputs[0]["probabilities"] == pytest.approx(
        dict(zip("012", expected_proba, strict=True)), abs=1e-5
    )


def test_onnx_metadata_classes_name_the_probabilities(iris_onnx: SavedModel, model_dir: Path) -> None:
    proto = onnx.load(iris_onnx.path)
    onnx.helper.set_model_props(proto, {"classes": '["setosa", "versicolor", "virginica"]'})
    path = model_dir / "iris-classes.onnx"
    onnx.save(proto, path)
    saved = SavedModel(iris_onnx.estimator, path, iris_onnx.features, iris_onnx.X)

    [output] = load_model(saved.spec("onnx"), path).predict_batch(saved.rows(1))

    assert set(output["probabilities"]) == {"setosa", "versicolor", "virginica"}


def test_onnx_regressor_answers_output_name_map(diabetes_onnx: SavedModel) -> None:
    model = load_model(diabetes_onnx.spec("onnx"), diabetes_onnx.path)
    outputs = model.predict_batch(diabetes_onnx.rows(3))

    expected = diabetes_onnx.estimator.predict(diabetes_onnx.X[:3])
    assert [o["variable"][0] for o in outputs] == pytest.approx(expected.tolist(), rel=1e-4)


@pytest.mark.parametrize("fmt", ["skops", "onnx"])
def test_a_bad_row_fails_alone(fmt: str, iris_classifier: SavedModel, iris_onnx: SavedModel) -> None:
    saved = iris_classifier if fmt == "skops" else iris_onnx
    rows = saved.rows(3)
    del rows[1]["petal_width"]
    rows[2]["sepal_length"] = "tall"

    first, missing, not_a_number = load_model(saved.spec(fmt), saved.path).predict_batch(rows)

    assert first["label"] == saved.estimator.predict(saved.X[:1]).tolist()[0]
    assert missing == RowError("missing feature 'petal_width'")
    assert isinstance(not_a_number, RowError) and "sepal_length" in not_a_number.message


@pytest.mark.parametrize("fmt", ["joblib", "pickle", "python"])
def test_code_running_formats_are_refused_without_unpickling(fmt: str, tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    path = tmp_path / "model.pkl"
    path.write_bytes(pickle.dumps(_Exploit(marker)))
    saved = SavedModel(None, path, ("x",), np.zeros((1, 1)))

    with pytest.raises(ModelLoadError, match="trusted pool"):
        load_model(saved.spec(fmt), path)
    assert not marker.exists()


class _Exploit:
    """Unpickling this writes a file: proof that nothing unpickled it."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[object, tuple[str, str]]:
        return (os.system, (f"touch {self.marker}",))


def test_skops_with_a_foreign_type_is_refused(iris_classifier: SavedModel, tmp_path: Path) -> None:
    pipeline = make_pipeline(FunctionTransformer(func=os.getcwd), LogisticRegression())
    path = tmp_path / "evil.skops"
    skops.io.dump(pipeline, path)
    saved = SavedModel(None, path, iris_classifier.features, iris_classifier.X)

    with pytest.raises(ModelLoadError, match=r"untrusted types posix\.getcwd"):
        load_model(saved.spec("skops"), path)


def test_unknown_format_is_refused(iris_classifier: SavedModel) -> None:
    with pytest.raises(ModelLoadError, match="unknown artifact format"):
        load_model(iris_classifier.spec("tensorflow"), iris_classifier.path)
