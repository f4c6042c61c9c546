"""The pure core of the league table: predictions read from outputs, the metrics, the tally and the ranking.

No database: plain ``(label, candidates)`` rows in, numbers out, checked against values worked out by
hand and against scikit-learn's own definitions.
"""

from __future__ import annotations

import math
import random
from collections import Counter
from typing import Any

import pytest
from sklearn.metrics import accuracy_score, f1_score, mean_absolute_error, root_mean_squared_error

from controlplane.feedback.quality import (
    Classified,
    Quality,
    Regressed,
    accuracy,
    class_key,
    league_table,
    macro_f1,
    prediction_of,
    tally_labelled,
)


def _candidate(model: str, version: int, output: Any, *, role: str = "champion", status: str = "ok") -> dict:
    return {"model": model, "version": version, "role": role, "status": status, "output": output}


def _confusion(truths: list[Any], predictions: list[Any]) -> Counter:
    return Counter((class_key(t), class_key(p)) for t, p in zip(truths, predictions, strict=True))


@pytest.mark.parametrize(
    ("output", "expected"),
    [
        ({"label": "setosa", "probabilities": {"setosa": 0.9}}, Classified(("string", "setosa"))),
        ({"label": 2}, Classified(("number", 2))),
        ({"label": 2.0}, Classified(("number", 2))),
        ({"label": True}, Classified(("bool", True))),
        ({"value": 1.5}, Regressed(1.5)),
        ({"value": 3}, Regressed(3.0)),
        ({"value": True}, None),
        ({"value": "high"}, None),
        ({"label": [1, 2]}, None),
        ({"label": None}, None),
        ({"variable": [0.2, 0.8]}, None),  # an ONNX model's raw outputs: no telling what they mean
        (None, None),
        ([1, 2], None),
    ],
)
def test_what_a_candidate_predicted_is_read_from_its_output(output: Any, expected: Any) -> None:
    assert prediction_of(output) == expected


def test_class_labels_compare_as_json_values() -> None:
    assert class_key(2) == class_key(2.0)
    assert class_key(2) != class_key("2")
    assert class_key(True) != class_key(1)
    assert class_key(float("nan")) is None and class_key({"label": 1}) is None


def test_accuracy_and_macro_f1_by_hand() -> None:
    truths = ["a", "a", "a", "b", "b", "c"]
    predicted = ["a", "a", "b", "b", "c", "c"]
    confusion = _confusion(truths, predicted)

    # 4 of 6 right. Per class: a: tp 2, fp 0, fn 1 → 4/5; b: tp 1, fp 1, fn 1 → 2/4; c: tp 1, fp 1, fn 0 → 2/3.
    assert accuracy(confusion) == pytest.approx(4 / 6)
    assert macro_f1(confusion) == pytest.approx((4 / 5 + 1 / 2 + 2 / 3) / 3)


def test_a_class_only_ever_predicted_counts_zero_in_macro_f1() -> None:
    confusion = _confusion(["a", "a"], ["a", "z"])

    # a: tp 1, fn 1 → 2/3; z: fp 1 → 0.
    assert macro_f1(confusion) == pytest.approx((2 / 3 + 0) / 2)
    assert accuracy(Counter()) is None and macro_f1(Counter()) is None


@pytest.mark.parametrize("seed", range(5))
def test_metrics_agree_with_scikit_learn(seed: int) -> None:
    rng = random.Random(seed)
    truths = [rng.choice([0, 1, 2, "x"]) for _ in range(200)]
    predicted = [t if rng.random() < 0.6 else rng.choice([0, 1, 2, 3, "x"]) for t in truths]
    values = [rng.uniform(-10, 10) for _ in range(200)]
    estimates = [v + rng.gauss(0, 2) for v in values]
    rows = [(truth, [_candidate("clf", 1, {"label": guess})]) for truth, guess in zip(truths, predicted, strict=True)]
    rows += [(value, [_candidate("reg", 1, {"value": guess})]) for value, guess in zip(values, estimates, strict=True)]

    qualities = {key: tally.quality() for key, tally in tally_labelled(rows).items()}

    as_text = [str(t) for t in truths], [str(p) for p in predicted]
    classifier = qualities[("clf", 1)]
    regressor = qualities[("reg", 1)]
    assert classifier.labelled == 200 and classifier.mae is None and classifier.rmse is None
    assert classifier.accuracy == pytest.approx(accuracy_score(*as_text))
    assert classifier.f1 == pytest.approx(f1_score(*as_text, average="macro"))
    assert regressor.labelled == 200 and regressor.accuracy is None and regressor.f1 is None
    assert regressor.mae == pytest.approx(mean_absolute_error(values, estimates))
    assert regressor.rmse == pytest.approx(root_mean_squared_error(values, estimates))


def test_every_candidate_of_a_labelled_decision_is_scored_and_what_cannot_be_is_not_counted() -> None:
    rows = [
        ("cat", [
            _candidate("m", 1, {"label": "cat"}),
            _candidate("m", 2, {"label": "dog"}, role="challenger"),
            _candidate("m", 3, None, role="canary", status="error"),
            _candidate("m", 9, None, role="decoy", status="missing"),
        ]),
        ("dog", [
            _candidate("m", 1, {"label": "cat"}),
            _candidate("m", 2, {"label": "dog"}, role="challenger"),
            _candidate("m", 3, {"label": "dog"}, role="canary"),
        ]),
        # A label that is not a class for a classifier: not comparable, not counted.
        ({"x": 1}, [_candidate("m", 1, {"label": "cat"})]),
        # Garbage in the stored candidates is skipped, not a crash.
        ("cat", ["junk", {"model": "m"}, {"model": "m", "version": True}]),
        ("cat", {"not": "a list"}),
    ]

    qualities = {key: tally.quality() for key, tally in tally_labelled(rows).items()}

    assert qualities == {
        # cat: tp 1, fp 1 → 2/3; dog: fn 1 → 0.
        ("m", 1): Quality(labelled=2, accuracy=0.5, f1=pytest.approx(1 / 3), mae=None, rmse=None),
        # cat: fn 1 → 0; dog: tp 1, fp 1 → 2/3.
        ("m", 2): Quality(labelled=2, accuracy=0.5, f1=pytest.approx(1 / 3), mae=None, rmse=None),
        ("m", 3): Quality(labelled=1, accuracy=1.0, f1=1.0, mae=None, rmse=None),
    }


def test_regression_by_hand_and_string_labels_do_not_count() -> None:
    rows = [
        (10, [_candidate("r", 1, {"value": 12.0})]),
        (20.0, [_candidate("r", 1, {"value": 16})]),
        ("high", [_candidate("r", 1, {"value": 99.0})]),
        (True, [_candidate("r", 1, {"value": 1.0})]),
    ]

    quality = tally_labelled(rows)[("r", 1)].quality()

    # Errors 2 and -4: MAE 3, RMSE sqrt((4 + 16) / 2).
    assert quality == Quality(labelled=2, accuracy=None, f1=None, mae=3.0, rmse=math.sqrt(10.0))


def test_the_league_table_ranks_classifiers_by_accuracy_then_regressors_by_rmse_and_names_roles() -> None:
    rows = [
        ("a", [
            _candidate("m", 1, {"label": "a"}),
            _candidate("m", 2, {"label": "a"}, role="challenger"),
            _candidate("m", 4, None, role="canary", status="missing"),
        ]),
        ("b", [
            _candidate("m", 1, {"label": "a"}, role="fallback"),
            _candidate("m", 2, {"label": "b"}, role="challenger"),
        ]),
        (1.0, [_candidate("r", 1, {"value": 3.0}), _candidate("r", 2, {"value": 1.5}, role="challenger")]),
    ]

    table = league_table(tally_labelled(rows))

    assert [(e.rank, e.model, e.version, e.roles) for e in table] == [
        (1, "m", 2, ("challenger",)),
        (2, "m", 1, ("champion", "fallback")),
        (3, "r", 2, ("challenger",)),
        (4, "r", 1, ("champion",)),
        (5, "m", 4, ("canary",)),
    ]
    assert table[0].quality.accuracy == 1.0 and table[1].quality.accuracy == 0.5
    assert table[2].quality.rmse == 0.5 and table[4].quality == Quality(0, None, None, None, None)
