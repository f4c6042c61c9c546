"""Small real models trained on scikit-learn's bundled datasets, saved the way tenants upload them."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import skops.io
from skl2onnx import to_onnx
from sklearn.datasets import load_diabetes, load_iris
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from tests.model_runner.factories import SavedModel

IRIS_FEATURES = ("sepal_length", "sepal_width", "petal_length", "petal_width")
DIABETES_FEATURES = ("age", "sex", "bmi", "bp", "s1", "s2", "s3", "s4", "s5", "s6")


@pytest.fixture(scope="session")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("models")


@pytest.fixture(scope="session")
def iris_classifier(model_dir: Path) -> SavedModel:
    X, y = load_iris(return_X_y=True)
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=500)).fit(X, y)
    path = model_dir / "iris.skops"
    skops.io.dump(model, path)
    return SavedModel(model, path, IRIS_FEATURES, X)


@pytest.fixture(scope="session")
def diabetes_regressor(model_dir: Path) -> SavedModel:
    X, y = load_diabetes(return_X_y=True)
    model = Ridge().fit(X, y)
    path = model_dir / "diabetes.skops"
    skops.io.dump(model, path)
    return SavedModel(model, path, DIABETES_FEATURES, X)


@pytest.fixture(scope="session")
def iris_onnx(model_dir: Path, iris_classifier: SavedModel) -> SavedModel:
    model = iris_classifier.estimator
    onx = to_onnx(model, iris_classifier.X[:1].astype(np.float32), options={id(model): {"zipmap": False}})
    path = model_dir / "iris.onnx"
    path.write_bytes(onx.SerializeToString())
    return SavedModel(model, path, IRIS_FEATURES, iris_classifier.X)


@pytest.fixture(scope="session")
def diabetes_onnx(model_dir: Path, diabetes_regressor: SavedModel) -> SavedModel:
    model = diabetes_regressor.estimator
    onx = to_onnx(model, diabetes_regressor.X[:1].astype(np.float32))
    path = model_dir / "diabetes.onnx"
    path.write_bytes(onx.SerializeToString())
    return SavedModel(model, path, DIABETES_FEATURES, diabetes_regressor.X)
