"""The static pickle scan passes what scikit-learn models are saved as and names what it refuses."""

from __future__ import annotations

import pickle
import warnings
from pathlib import Path

import joblib
import numpy as np
import pytest

from contracts.pickle_scan import PickleRefused, pickle_file_refusals, reference_problem
from tests.model_runner.allowed_estimators import fitted

GOOD = ["sklearn.pipeline:Pipeline", "sklearn.ensemble:GradientBoostingClassifier",
        "sklearn.neighbors:KNeighborsClassifier", "sklearn.neural_network:MLPClassifier",
        "sklearn.compose:ColumnTransformer"]
COMPRESSIONS = [0, 3, ("gzip", 3), ("bz2", 3), ("xz", 3), ("lzma", 3)]


@pytest.mark.parametrize("public", GOOD)
@pytest.mark.parametrize("compress", COMPRESSIONS, ids=str)
def test_joblib_files_of_real_estimators_pass(public: str, compress: object, tmp_path: Path) -> None:
    path = tmp_path / "model.joblib"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        joblib.dump(fitted(public), path, compress=compress)

    assert pickle_file_refusals(path) == []


@pytest.mark.parametrize("protocol", [2, 3, 4, 5])
def test_plain_pickles_of_real_estimators_pass(protocol: int, tmp_path: Path) -> None:
    path = tmp_path / "model.pkl"
    path.write_bytes(pickle.dumps(fitted("sklearn.ensemble:RandomForestClassifier"), protocol=protocol))

    assert pickle_file_refusals(path) == []


def test_object_arrays_are_a_nested_pickle_and_are_scanned_too(tmp_path: Path) -> None:
    path = tmp_path / "model.joblib"
    joblib.dump({"labels": np.array(["a", "b"], dtype=object), "w": np.zeros(3)}, path)

    assert pickle_file_refusals(path) == []


@pytest.mark.parametrize(("name", "reason"), [
    ("posix.fork", "not scikit-learn"),
    ("subprocess.Popen", "not scikit-learn"),
    ("builtins.eval", "builtin"),
    ("builtins.getattr", "builtin"),
    ("numpy.testing._private.utils.runstring", "can run code"),
    ("numpy.load", "gadget"),
    ("numpy.memmap", "gadget"),
    ("scipy._lib._ccallback.LowLevelCallable", "can run code"),
    ("sklearn.utils._testing.assert_run_python_script_without_output", "can run code"),
    ("numpy.sum", "a function"),
    ("sklearn.nonexistent.Thing", "does not exist"),
])
def test_references_outside_the_allow_list_are_refused_with_a_reason(name: str, reason: str) -> None:
    problem = reference_problem(name)

    assert problem is not None and reason in problem


def test_unfollowable_pickles_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "model.pkl"
    path.write_bytes(b"\x80\x02\x82\x01N.")  # EXT1: a name from the copyreg extension registry

    with pytest.raises(PickleRefused, match="EXT1"):
        pickle_file_refusals(path)
    path.write_bytes(b"\x80\x04\x8c\x05posix\x8c\x04fo" + b"rk\x93")  # no STOP
    with pytest.raises(PickleRefused):
        pickle_file_refusals(path)
