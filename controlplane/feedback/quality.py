"""Ground truth joined to every candidate: the quality of each model version, the league table.

Every scoring version of a service saw the same requests (champions, fallbacks, challengers in shadow,
canaries), so labels joined to *every* candidate of a decision compare them fairly (DESIGN.md §7).

What a candidate predicted is read from its output as the runners write it (DESIGN.md §6): ``{label,
probabilities?}`` is a classifier → accuracy and macro F1; ``{value}`` is a regressor → MAE and RMSE.
A ground-truth label is a JSON scalar; class labels compare as JSON values (``2`` equals ``2.0``, not
``"2"``, and ``true`` is not ``1``). An output of another shape (an ONNX model's raw outputs), an error,
a missing score, or a label of the wrong kind (a string for a regressor) is not scoreable and not counted.

The top half is pure (plain data in, numbers out, no database); ``quality_by_version`` and
``quality_table`` at the bottom are the selectors that read the labelled decisions of a window in one
query and feed them through it.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Hashable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import msgspec
from django.db import connection

from contracts.roles import ROLES
from controlplane.decisions.models import DecisionRecord
from controlplane.feedback.models import Feedback
from controlplane.routing.models import Service

VersionKey = tuple[str, int]
# A class label made comparable: JSON numbers by value (2 == 2.0), booleans and strings apart from them.
ClassKey = tuple[str, Hashable]


@dataclass(frozen=True, slots=True)
class Quality:
    """One version's quality over the labelled requests it scored; a metric of the other task type is None."""

    labelled: int
    accuracy: float | None
    f1: float | None
    mae: float | None
    rmse: float | None


@dataclass(frozen=True, slots=True)
class Classified:
    predicted: ClassKey


@dataclass(frozen=True, slots=True)
class Regressed:
    predicted: float


Prediction = Classified | Regressed


def class_key(value: Any) -> ClassKey | None:
    """A JSON scalar as a class, or None when it cannot be one (null, objects, arrays, non-finite numbers)."""
    if isinstance(value, bool):
        return ("bool", value)
    if isinstance(value, int):
        return ("number", value)
    if isinstance(value, float):
        if not math.isfinite(value):
            return None
        return ("number", int(value)) if value.is_integer() else ("number", value)
    if isinstance(value, str):
        return ("string", value)
    return None


def number_of(value: Any) -> float | None:
    """A finite JSON number (booleans are not numbers here)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def prediction_of(output: Any) -> Prediction | None:
    """What a candidate predicted: ``{label, …}`` → a class, ``{value}`` → a number; anything else → None."""
    if not isinstance(output, Mapping):
        return None
    if "label" in output:
        key = class_key(output["label"])
        return None if key is None else Classified(key)
    if "value" in output:
        number = number_of(output["value"])
        return None if number is None else Regressed(number)
    return None


def accuracy(confusion: Mapping[tuple[ClassKey, ClassKey], int]) -> float | None:
    """Share of (truth, predicted) pairs that agree; None without pairs."""
    total = sum(confusion.values())
    if not total:
        return None
    return sum(count for (truth, predicted), count in confusion.items() if truth == predicted) / total


def macro_f1(confusion: Mapping[tuple[ClassKey, ClassKey], int]) -> float | None:
    """Unweighted mean of the per-class F1 over every class seen as a truth or a prediction (as
    scikit-learn's ``f1_score(average="macro")``); a class never predicted right scores 0."""
    true_positive: Counter[ClassKey] = Counter()
    false_positive: Counter[ClassKey] = Counter()
    false_negative: Counter[ClassKey] = Counter()
    for (truth, predicted), count in confusion.items():
        if not count:
            continue
        if truth == predicted:
            true_positive[truth] += count
        else:
            false_positive[predicted] += count
            false_negative[truth] += count
    classes = set(true_positive) | set(false_positive) | set(false_negative)
    if not classes:
        return None
    scores = [
        2 * true_positive[c] / (2 * true_positive[c] + false_positive[c] + false_negative[c]) for c in classes
    ]
    return sum(scores) / len(scores)


@dataclass(slots=True)
class VersionTally:
    """What one version's labelled predictions add up to; mergeable, never a list of requests."""

    roles: set[str] = field(default_factory=set)
    confusion: Counter[tuple[ClassKey, ClassKey]] = field(default_factory=Counter)
    regressed: int = 0
    absolute_error: float = 0.0
    squared_error: float = 0.0

    def add(self, truth: Any, prediction: Prediction) -> bool:
        """Counts one labelled prediction; False when the label cannot be compared with it."""
        if isinstance(prediction, Classified):
            truth_key = class_key(truth)
            if truth_key is None:
                return False
            self.confusion[(truth_key, prediction.predicted)] += 1
            return True
        truth_number = number_of(truth)
        if truth_number is None:
            return False
        error = prediction.predicted - truth_number
        self.regressed += 1
        self.absolute_error += abs(error)
        self.squared_error += error * error
        return True

    def quality(self) -> Quality:
        classified = sum(self.confusion.values())
        return Quality(
            labelled=classified + self.regressed,
            accuracy=accuracy(self.confusion),
            f1=macro_f1(self.confusion),
            mae=self.absolute_error / self.regressed if self.regressed else None,
            rmse=math.sqrt(self.squared_error / self.regressed) if self.regressed else None,
        )


def _candidate_fields(candidate: Any) -> tuple[str, int, str, str, Any] | None:
    """(model, version, role, status, output) of a stored candidate, or None if it is not one."""
    if not isinstance(candidate, Mapping):
        return None
    model, version = candidate.get("model"), candidate.get("version")
    if not isinstance(model, str) or isinstance(version, bool) or not isinstance(version, int):
        return None
    return model, version, str(candidate.get("role")), str(candidate.get("status")), candidate.get("output")


def tally_labelled(rows: Iterable[tuple[Any, Sequence[Any]]]) -> dict[VersionKey, VersionTally]:
    """``(label, candidates)`` of labelled decisions → a tally per (model, version).

    Every version that took part in a labelled decision is in the answer (an erroring challenger shows
    up with nothing labelled), except decoys, which never score. A version listed twice in one decision
    counts once, with its first usable score.
    """
    tallies: dict[VersionKey, VersionTally] = {}
    for label, candidates in rows:
        counted: set[VersionKey] = set()
        for candidate in candidates:
            fields = _candidate_fields(candidate)
            if fields is None or fields[2] == "decoy":
                continue
            model, version, role, status, output = fields
            tally = tallies.setdefault((model, version), VersionTally())
            tally.roles.add(role)
            if status != "ok" or (model, version) in counted:
                continue
            prediction = prediction_of(output)
            if prediction is not None and tally.add(label, prediction):
                counted.add((model, version))
    return tallies


@dataclass(frozen=True, slots=True)
class LeagueEntry:
    rank: int
    model: str
    version: int
    roles: tuple[str, ...]
    quality: Quality


def _rank_key(item: tuple[VersionKey, Quality]) -> tuple[Any, ...]:
    (model, version), quality = item
    if quality.accuracy is not None:
        return (0, -quality.accuracy, -(quality.f1 or 0.0), -quality.labelled, model, version)
    if quality.rmse is not None:
        return (1, quality.rmse, quality.mae or 0.0, -quality.labelled, model, version)
    return (2, 0.0, 0.0, 0, model, version)


def league_table(tallies: Mapping[VersionKey, VersionTally]) -> list[LeagueEntry]:
    """Versions ranked best first: classifiers by accuracy (then F1), then regressors by RMSE (then MAE),
    then versions with nothing labelled; more labels break a tie."""
    qualities = {key: tally.quality() for key, tally in tallies.items()}
    ranked = sorted(qualities.items(), key=_rank_key)
    return [
        LeagueEntry(
            rank=position,
            model=model,
            version=version,
            roles=tuple(role for role in ROLES if role in tallies[(model, version)].roles),
            quality=quality,
        )
        for position, ((model, version), quality) in enumerate(ranked, start=1)
    ]


# --- selectors -------------------------------------------------------------------------------------------


def _json(value: Any) -> Any:
    """A JSON column as a raw cursor answers it: text on PostgreSQL (Django keeps jsonb undecoded) and SQLite."""
    return msgspec.json.decode(value) if isinstance(value, str | bytes) else value


def labelled_decisions(*, service: Service, since: datetime, until: datetime, chunk: int = 2000) -> Iterator[
    tuple[Any, list[Any]]
]:
    """``(label, candidates)`` of the service's decisions made in ``[since, until)`` that have a label.

    One join on (service, request_id), driven by the service's labels: both sides are found through their
    unique (service, request_id) index, so the cost follows the labels, not the decisions (of which there
    may be thousands a second, mostly unlabelled). Labels given before their decision was stored simply
    join once it is.
    """
    quote = connection.ops.quote_name
    labels, decisions = quote(Feedback._meta.db_table), quote(DecisionRecord._meta.db_table)
    sql = (
        f"SELECT f.label, d.candidates FROM {labels} f "
        f"JOIN {decisions} d ON d.service_id = f.service_id AND d.request_id = f.request_id "
        "WHERE f.service_id = %s AND d.decided_at >= %s AND d.decided_at < %s"
    )
    adapt = connection.ops.adapt_datetimefield_value
    with connection.cursor() as cursor:
        cursor.execute(sql, [service.pk, adapt(since), adapt(until)])
        while rows := cursor.fetchmany(chunk):
            for label, candidates in rows:
                yield _json(label), _json(candidates) or []


@dataclass(frozen=True, slots=True)
class QualityTable:
    labelled_requests: int
    versions: list[LeagueEntry]


def quality_table(*, service: Service, since: datetime, until: datetime) -> QualityTable:
    """The league table of the versions that took part in the labelled decisions of the window."""
    counted = 0

    def counting() -> Iterator[tuple[Any, list[Any]]]:
        nonlocal counted
        for row in labelled_decisions(service=service, since=since, until=until):
            counted += 1
            yield row

    tallies = tally_labelled(counting())
    return QualityTable(labelled_requests=counted, versions=league_table(tallies))


def quality_by_version(service: Service, since: datetime, until: datetime) -> dict[tuple[str, int], Quality]:
    """(model, version) → its Quality over the labelled decisions made in ``[since, until)``.

    For ``GET …/metrics`` (quality fields per deployment); a version absent from the answer took part in
    no labelled decision of the window.
    """
    return {
        key: tally.quality()
        for key, tally in tally_labelled(labelled_decisions(service=service, since=since, until=until)).items()
    }
