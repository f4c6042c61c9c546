"""Hostile artifacts (issue 14): each would run code, fork or read a file outside itself if loaded.

Every payload writes ``sentinel`` (a path the test chooses) when it runs, so a test proves it did not run
by checking the file does not exist.
"""

from __future__ import annotations

import io
import os
import pickle
from pathlib import Path

import numpy as np
from sklearn.datasets import load_iris

FEATURES = ["sepal_length", "sepal_width", "petal_length", "petal_width"]


def _skops_bytes(estimator: object) -> bytes:
    import skops.io

    buffer = io.BytesIO()
    skops.io.dump(estimator, buffer)
    return buffer.getvalue()


def _write_code(sentinel: Path) -> str:
    return f"open({str(sentinel)!r}, 'w').write('code ran')\n"


def function_gadget_skops(sentinel: Path) -> bytes:
    """The issue's gadget: numpy/sklearn functions only, ending in ``numpy.testing``'s ``runstring``.

    At the first prediction: ``full_like`` fills the input's shape with the code (an object array),
    ``sum`` concatenates it into one string, ``runstring`` ``exec``s it. Every type it names starts with
    ``sklearn.`` or ``numpy.``: the old prefix check let it through.
    """
    from numpy.testing._private.utils import runstring
    from sklearn.dummy import DummyClassifier
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import FunctionTransformer

    features, labels = load_iris(return_X_y=True)
    pipeline = Pipeline([
        ("fill", FunctionTransformer(np.full_like, kw_args={"fill_value": _write_code(sentinel), "dtype": "O"})),
        ("join", FunctionTransformer(np.sum)),
        ("run", FunctionTransformer(runstring, kw_args={"dict": {}})),
        ("model", DummyClassifier().fit(features, labels)),
    ])
    for _, step in pipeline.steps[:-1]:
        step.fit(features)
    return _skops_bytes(pipeline)


def builtin_skops(function: str, sentinel: Path) -> bytes:
    """A FunctionTransformer calling ``builtins.eval`` or ``os.system`` on a constant (kw_args) at prediction."""
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import FunctionTransformer
    from sklearn.tree import DecisionTreeClassifier

    features, labels = load_iris(return_X_y=True)
    if function == "eval":
        step = FunctionTransformer(eval, kw_args={"globals": {}, "locals": {"x": _write_code(sentinel)}})
    else:
        step = FunctionTransformer(os.system)
    return _skops_bytes(make_pipeline(step, DecisionTreeClassifier(max_depth=2).fit(features, labels)))


def ufunc_transformer_skops() -> bytes:
    """skops trusts NumPy ufuncs and every estimator by default without reporting them: a FunctionTransformer
    of ``numpy.exp`` passes ``get_untrusted_types`` empty-handed. Harmless itself, but the allow-list must not
    depend on skops' defaults: it is refused."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import FunctionTransformer

    features, labels = load_iris(return_X_y=True)
    return _skops_bytes(make_pipeline(FunctionTransformer(np.exp), LogisticRegression(max_iter=300)).fit(
        features, labels))


def external_data_onnx(location: str) -> bytes:
    """A linear regressor (``X @ W``) whose weights ``W`` are "stored" in the file ``location``."""
    from onnx import TensorProto, helper

    weights = helper.make_tensor("W", TensorProto.FLOAT, [len(FEATURES), 1], [0.5] * len(FEATURES))
    weights.ClearField("float_data")
    weights.data_location = TensorProto.EXTERNAL
    for key, value in (("location", location), ("offset", "0"), ("length", str(4 * len(FEATURES)))):
        entry = weights.external_data.add()
        entry.key, entry.value = key, value
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["X", "W"], ["variable"])],
        "external",
        [helper.make_tensor_value_info("X", TensorProto.FLOAT, [None, len(FEATURES)])],
        [helper.make_tensor_value_info("variable", TensorProto.FLOAT, [None, 1])],
        [weights],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    return model.SerializeToString()


def fork_bomb_pickle(forks: int = 64) -> bytes:
    """A pickle calling ``posix.fork`` ``forks`` times (2^forks processes if it were ever loaded)."""
    body = b"\x80\x02cposix\nfork\nq\x00" + b")R0" + b"h\x00)R0" * (forks - 1)
    return body + b"N."


class _System:
    def __init__(self, sentinel: Path) -> None:
        self.sentinel = sentinel

    def __reduce__(self) -> tuple[object, tuple[str]]:
        return (os.system, (f"touch {self.sentinel}",))


def system_joblib(sentinel: Path) -> bytes:
    """A joblib-compressed estimator list that also holds an ``os.system`` call (REDUCE)."""
    import joblib
    from sklearn.linear_model import LogisticRegression

    features, labels = load_iris(return_X_y=True)
    buffer = io.BytesIO()
    joblib.dump([LogisticRegression(max_iter=300).fit(features, labels), _System(sentinel)], buffer, compress=3)
    return buffer.getvalue()


def stack_global_pickle(sentinel: Path) -> bytes:
    """``os.system`` named through STACK_GLOBAL with its strings fetched from the memo (protocol 4)."""
    return pickle.dumps(_System(sentinel), protocol=4)


def memo_stack_global_pickle(sentinel: Path) -> bytes:
    """``posix.system`` named by STACK_GLOBAL from two strings pushed earlier, dropped, and fetched back
    from the memo: a scanner that only looks at the strings right before STACK_GLOBAL misses it."""
    command = f"touch {sentinel}".encode()
    return (b"\x80\x04" + b"\x8c\x05posix\x94" + b"\x8c\x06system\x94" + b"00" + b"h\x00h\x01\x93"
            + b"\x8c" + bytes([len(command)]) + command + b"\x85R.")


def malformed_tree_skops() -> bytes:
    """A decision tree whose root points at child 10^7: predicting with it reads memory outside its arrays
    (a segfault, or other memory returned as probabilities)."""
    from sklearn.tree import DecisionTreeClassifier

    features, labels = load_iris(return_X_y=True)
    tree = DecisionTreeClassifier(max_depth=2, random_state=0).fit(features, labels)
    state = tree.tree_.__getstate__()
    nodes = state["nodes"].copy()
    nodes["left_child"][0] = 10**7
    tree.tree_.__setstate__({**state, "nodes": nodes})
    return _skops_bytes(tree)


def _widen(estimator: object) -> None:
    """Make ``estimator``'s tree split its root on feature 10^6, consistently: the tree's own bound says
    10^6 + 1 features, so the tree alone looks sound."""
    tree = estimator.tree_  # type: ignore[attr-defined]
    state = tree.__getstate__()
    nodes = state["nodes"].copy()
    nodes["feature"][0] = 10**6
    wide = type(tree)(10**6 + 1, tree.n_classes, tree.n_outputs)
    wide.__setstate__({**state, "nodes": nodes})
    estimator.tree_ = wide  # type: ignore[attr-defined]


def wide_tree_skops() -> bytes:
    """A tree 10^6 + 1 wide while its estimator still takes the 4 iris features: scikit-learn checks the
    input against the estimator, so predicting would read far past each row."""
    from sklearn.tree import DecisionTreeClassifier

    features, labels = load_iris(return_X_y=True)
    tree = DecisionTreeClassifier(max_depth=2, random_state=0).fit(features, labels)
    _widen(tree)
    return _skops_bytes(tree)


def wide_forest_member_skops() -> bytes:
    """A forest (4 features) one of whose trees, estimator included, is consistently 10^6 + 1 wide: the
    forest validates the input, then hands it to its trees unchecked."""
    from sklearn.ensemble import RandomForestClassifier

    features, labels = load_iris(return_X_y=True)
    forest = RandomForestClassifier(n_estimators=2, max_depth=2, random_state=0).fit(features, labels)
    member = forest.estimators_[0]
    _widen(member)
    member.n_features_in_ = 10**6 + 1
    return _skops_bytes(forest)
