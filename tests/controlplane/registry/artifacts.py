"""Artifacts that should fail validation, each for one reason a user must be told about.

Shared by the registry tests and the end-to-end test of validation by a real Celery worker.
"""

from __future__ import annotations

import io
import zipfile

import numpy as np
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression

FEATURES = ["sepal_length", "sepal_width", "petal_length", "petal_width"]
EXAMPLE = {"sepal_length": 5.1, "sepal_width": 3.5, "petal_length": 1.4, "petal_width": 0.2}
METADATA = {"features": FEATURES, "example": EXAMPLE}
# Random-looking bytes with a fixed seed: "a broken artifact".
BROKEN_BYTES = np.random.default_rng(7).bytes(4096)


class HomeMadeClassifier(LogisticRegression):
    """A type outside scikit-learn and NumPy: skops must not instantiate it for a tenant."""


def _skops_bytes(estimator: object, **dump_options: object) -> bytes:
    import skops.io

    buffer = io.BytesIO()
    skops.io.dump(estimator, buffer, **dump_options)
    return buffer.getvalue()


def iris_skops() -> bytes:
    features, labels = load_iris(return_X_y=True)
    return _skops_bytes(LogisticRegression(max_iter=500).fit(features, labels))


def untrusted_type_skops() -> bytes:
    features, labels = load_iris(return_X_y=True)
    return _skops_bytes(HomeMadeClassifier(max_iter=500).fit(features, labels))


def oversized_skops(megabytes: int = 320) -> bytes:
    """A small file (zeros compress) whose load allocates ``megabytes`` of coefficients."""
    model = LogisticRegression()
    model.coef_ = np.zeros((1, megabytes * 1024 * 1024 // 8))
    model.intercept_ = np.zeros(1)
    model.classes_ = np.array([0, 1])
    return _skops_bytes(model, compression=zipfile.ZIP_DEFLATED, compresslevel=1)


def spinning_onnx() -> bytes:
    """An ONNX model whose prediction loops (practically) forever: a Loop of 10^15 additions."""
    from onnx import TensorProto, helper

    body = helper.make_graph(
        [
            helper.make_node("Identity", ["cond_in"], ["cond_out"]),
            helper.make_node("Add", ["total_in", "one"], ["total_out"]),
        ],
        "body",
        [
            helper.make_tensor_value_info("iteration", TensorProto.INT64, []),
            helper.make_tensor_value_info("cond_in", TensorProto.BOOL, []),
            helper.make_tensor_value_info("total_in", TensorProto.FLOAT, None),
        ],
        [
            helper.make_tensor_value_info("cond_out", TensorProto.BOOL, []),
            helper.make_tensor_value_info("total_out", TensorProto.FLOAT, None),
        ],
        [helper.make_tensor("one", TensorProto.FLOAT, [], [1.0])],
    )
    graph = helper.make_graph(
        [
            helper.make_node("ReduceSum", ["X", "axis"], ["start"], keepdims=1),
            helper.make_node("Loop", ["trips", "always", "start"], ["value"], body=body),
        ],
        "spin",
        [helper.make_tensor_value_info("X", TensorProto.FLOAT, [None, len(FEATURES)])],
        [helper.make_tensor_value_info("value", TensorProto.FLOAT, None)],
        [
            helper.make_tensor("trips", TensorProto.INT64, [], [10**15]),
            helper.make_tensor("always", TensorProto.BOOL, [], [True]),
            helper.make_tensor("axis", TensorProto.INT64, [1], [1]),
        ],
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]).SerializeToString()


def iris_onnx() -> bytes:
    from skl2onnx import to_onnx

    features, labels = load_iris(return_X_y=True)
    model = LogisticRegression(max_iter=500).fit(features.astype("float32"), labels)
    return to_onnx(model, features[:1].astype("float32")).SerializeToString()
