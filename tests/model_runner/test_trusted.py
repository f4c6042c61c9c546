"""Pickle-based and ``python`` models load only where the operator trusts the pool, and answer the
same output shapes as the safe formats."""

from __future__ import annotations

import pickle
from pathlib import Path

import joblib
import pytest

from model_runner.loading import ModelLoadError, RowError, load_model
from model_runner.trusted import normalise_output
from tests.model_runner.factories import SavedModel
from tests.model_runner.python_models import DOUBLER_TARGET, RAISER_TARGET


def _python_artifact(tmp_path: Path, text: str) -> SavedModel:
    path = tmp_path / "model.txt"
    path.write_text(text)
    return SavedModel(None, path, (), None)  # type: ignore[arg-type]


@pytest.mark.parametrize("fmt", ["joblib", "pickle", "python"])
def test_code_running_formats_are_refused_outside_a_trusted_pool(fmt: str, iris_classifier: SavedModel) -> None:
    with pytest.raises(ModelLoadError, match=r"needs a trusted pool; pool 'default' is not marked trusted"):
        load_model(iris_classifier.spec(fmt), iris_classifier.path)


@pytest.mark.parametrize("fmt", ["joblib", "pickle"])
def test_a_trusted_pool_loads_a_pickled_estimator_and_scores_it_like_skops(
    fmt: str, iris_classifier: SavedModel, tmp_path: Path
) -> None:
    path = tmp_path / f"iris.{fmt}"
    if fmt == "joblib":
        joblib.dump(iris_classifier.estimator, path)
    else:
        path.write_bytes(pickle.dumps(iris_classifier.estimator))
    saved = SavedModel(iris_classifier.estimator, path, iris_classifier.features, iris_classifier.X)

    pickled = load_model(saved.spec(fmt), path, trusted=True).predict_batch(saved.rows(20))
    safe = load_model(iris_classifier.spec("skops"), iris_classifier.path).predict_batch(saved.rows(20))

    assert pickled == safe


def test_a_pickle_of_something_that_cannot_predict_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "dict.pkl"
    path.write_bytes(pickle.dumps({"not": "a model"}))
    saved = SavedModel(None, path, ("x",), None)  # type: ignore[arg-type]

    with pytest.raises(ModelLoadError, match="holds a dict, which has no predict"):
        load_model(saved.spec("pickle"), path, trusted=True)


def test_a_python_model_gets_whole_rows_and_its_outputs_are_normalised(tmp_path: Path) -> None:
    saved = _python_artifact(tmp_path, f"# the operator's doubling model\n\n{DOUBLER_TARGET}\n")
    model = load_model(saved.spec("python", features=()), saved.path, trusted=True)

    outputs = model.predict_batch([{"x": 2, "country": "fr"}, {"y": 1}, {"x": 0.5}])

    assert outputs[0] == {"value": 4} and outputs[2] == {"value": 1.0}
    assert isinstance(outputs[1], RowError) and "KeyError" in outputs[1].message


def test_a_python_model_that_raises_fails_the_call(tmp_path: Path) -> None:
    saved = _python_artifact(tmp_path, RAISER_TARGET)
    model = load_model(saved.spec("python"), saved.path, trusted=True)

    with pytest.raises(RuntimeError, match="broken model"):
        model.predict_batch([{"x": 1}])


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("os.system", "must hold one line 'package.module:callable'"),
        ("a:b\nc:d", "must hold one line"),
        ("no_such_module_here:predict", "cannot import 'no_such_module_here'"),
        ("tests.model_runner.python_models:nothing", "has no attribute 'nothing'"),
        ("tests.model_runner.python_models:SLEEPER_TARGET", "is a str, not a callable"),
    ],
)
def test_a_bad_python_artifact_is_refused_with_a_clear_message(tmp_path: Path, text: str, message: str) -> None:
    saved = _python_artifact(tmp_path, text)

    with pytest.raises(ModelLoadError, match=message):
        load_model(saved.spec("python"), saved.path, trusted=True)


def test_a_python_model_must_answer_once_per_row(tmp_path: Path) -> None:
    saved = _python_artifact(tmp_path, "tests.model_runner.python_models:drop_last")
    model = load_model(saved.spec("python"), saved.path, trusted=True)

    with pytest.raises(ValueError, match="returned 0 outputs for 1 rows"):
        model.predict_batch([{}])


@pytest.mark.parametrize(
    ("output", "expected"),
    [
        ({"label": "cat", "probabilities": {"cat": 0.9}}, {"label": "cat", "probabilities": {"cat": 0.9}}),
        (3.5, {"value": 3.5}),
        (2, {"value": 2}),
        ("cat", {"label": "cat"}),
        (True, {"label": True}),
    ],
)
def test_outputs_take_the_platform_s_shapes(output: object, expected: dict[str, object]) -> None:
    assert normalise_output(output) == expected


def test_outputs_that_are_not_answers_fail_their_row_only() -> None:
    assert isinstance(normalise_output(None), RowError)
    assert normalise_output(ValueError("bad row")) == RowError("ValueError: bad row")
    assert isinstance(normalise_output(object()), RowError)
