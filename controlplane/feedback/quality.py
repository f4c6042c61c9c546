"""Ground truth joined to every candidate: the quality of each model version, the league table.

Every scoring version of a service saw the same requests (champions, fallbacks, challengers in shadow,
canaries), so labels joined to *every* candidate of a decision compare them fairly (DESIGN.md §7).

What a candidate predicted is read from its output as the runners write it (DESIGN.md §6): ``{label,
probabilities?}`` is a classifier → accuracy and macro F1; ``{value}`` is a regressor → MAE and RMSE.
A ground-truth label is a JSON scalar; class labels compare as JSON values (``2`` equals ``2.0``, not
``"2"``, and ``true`` is not ``1``). An output of another shape (an ONNX model's raw outputs), an error,
a missing score, or a label of the wrong kind (a string for a regressor) is not scoreable and not counted.

The top half is pure (plain data in, numbers out, no database); ``quality_by_version`` and
``quality_table`` at the bottom are the selectors that join the labels to the decisions of a window in
one query (PostgreSQL also groups identical answers there) and feed the result through it.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Hashable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, NamedTuple

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

    def add(self, truth: Any, prediction: Prediction, count: int = 1) -> None:
        """Counts ``count`` identical labelled predictions; a label of the wrong kind counts for nothing."""
        if isinstance(prediction, Classified):
            truth_key = class_key(truth)
            if truth_key is not None:
                self.confusion[(truth_key, prediction.predicted)] += count
            return
        truth_number = number_of(truth)
        if truth_number is None:
            return
        error = prediction.predicted - truth_number
        self.regressed += count
        self.absolute_error += count * abs(error)
        self.squared_error += count * error * error

    def quality(self) -> Quality:
        classified = sum(self.confusion.values())
        return Quality(
            labelled=classified + self.regressed,
            accuracy=accuracy(self.confusion),
            f1=macro_f1(self.confusion),
            mae=self.absolute_error / self.regressed if self.regressed else None,
            rmse=math.sqrt(self.squared_error / self.regressed) if self.regressed else None,
        )


class Score(NamedTuple):
    """One candidate's answer to a labelled request (``count`` identical ones, when the database grouped them)."""

    truth: Any
    model: Any
    version: Any
    role: Any
    status: Any
    output: Any
    count: int = 1


def scores_of(rows: Iterable[tuple[Any, Sequence[Any]]]) -> Iterator[Score]:
    """``(label, candidates)`` of labelled decisions → one Score per candidate (junk candidates skipped)."""
    for label, candidates in rows:
        for candidate in candidates if isinstance(candidates, list) else ():
            if isinstance(candidate, Mapping):
                yield Score(
                    label,
                    candidate.get("model"),
                    candidate.get("version"),
                    candidate.get("role"),
                    candidate.get("status"),
                    candidate.get("output"),
                )


def tally_scores(scores: Iterable[Score]) -> dict[VersionKey, VersionTally]:
    """A tally per (model, version).

    Every version that took part in a labelled decision is in the answer (an erroring challenger shows
    up with nothing labelled), except decoys, which never score. A version is a candidate at most once per
    decision (a routing deploys a version once), so each candidate counts.
    """
    tallies: dict[VersionKey, VersionTally] = {}
    for truth, model, version, role, status, output, count in scores:
        if not isinstance(model, str) or isinstance(version, bool) or not isinstance(version, int):
            continue
        if role == "decoy":
            continue
        tally = tallies.get((model, version))
        if tally is None:
            tally = tallies[(model, version)] = VersionTally()
        tally.roles.add(str(role))
        if status != "ok":
            continue
        prediction = prediction_of(output)
        if prediction is not None:
            tally.add(truth, prediction, count)
    return tallies


def tally_labelled(rows: Iterable[tuple[Any, Sequence[Any]]]) -> dict[VersionKey, VersionTally]:
    """``(label, candidates)`` of labelled decisions → a tally per (model, version) (see tally_scores)."""
    return tally_scores(scores_of(rows))


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


# Records are stored a moment after they are decided (created_at ≥ decided_at on one clock): the indexed
# created_at bound narrows the scan of a short window, with slack for the clocks of other machines.
_STORE_SLACK = timedelta(minutes=2)


def _labelled_join(*, unnest: bool = False) -> str:
    """FROM … WHERE of the labelled decisions of a window; parameters: service id, since, until, since − slack.

    One join on (service, request_id), both sides found through their unique (service, request_id) index
    (or the decisions through created_at for a short window). Labels given before their decision was stored
    join once it is: nothing is matched at write time. ``unnest`` adds one row per candidate (PostgreSQL).
    """
    quote = connection.ops.quote_name
    labels, decisions = quote(Feedback._meta.db_table), quote(DecisionRecord._meta.db_table)
    candidates = (
        "CROSS JOIN LATERAL jsonb_array_elements(CASE jsonb_typeof(d.candidates) WHEN 'array' "
        "THEN d.candidates ELSE '[]'::jsonb END) AS c(value) "
        if unnest
        else ""
    )
    return (
        f"FROM {labels} f JOIN {decisions} d ON d.service_id = f.service_id AND d.request_id = f.request_id "
        f"{candidates}"
        "WHERE f.service_id = %s AND d.decided_at >= %s AND d.decided_at < %s AND d.created_at >= %s"
    )


def _window_params(service: Service, since: datetime, until: datetime) -> list[Any]:
    adapt = connection.ops.adapt_datetimefield_value
    return [service.pk, adapt(since), adapt(until), adapt(since - _STORE_SLACK)]


def labelled_decisions(
    *, service: Service, since: datetime, until: datetime, chunk: int = 2000
) -> Iterator[tuple[Any, list[Any]]]:
    """``(label, candidates)`` of the service's decisions made in ``[since, until)`` that have a label."""
    sql = f"SELECT f.label, d.candidates {_labelled_join()}"
    with connection.cursor() as cursor:
        cursor.execute(sql, _window_params(service, since, until))
        while rows := cursor.fetchmany(chunk):
            for label, candidates in rows:
                yield _json(label), _json(candidates) or []


def _grouped_scores(*, service: Service, since: datetime, until: datetime) -> Iterator[Score]:
    """PostgreSQL: the candidates unnested and identical answers grouped in the database, so a classifier's
    thousands of labelled requests come back as a confusion matrix, and no probabilities cross the wire."""
    sql = (
        "SELECT f.label, c.value ->> 'model', c.value -> 'version', c.value ->> 'role', c.value ->> 'status', "
        "(c.value -> 'output') ? 'label', c.value -> 'output' -> 'label', c.value -> 'output' -> 'value', "
        f"count(*) {_labelled_join(unnest=True)} GROUP BY 1, 2, 3, 4, 5, 6, 7, 8"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, _window_params(service, since, until))
        for label, model, version, role, status, has_label, output_label, value, count in cursor.fetchall():
            if has_label:
                output = {"label": _json(output_label)}
            elif value is not None:
                output = {"value": _json(value)}
            else:
                output = None
            yield Score(_json(label), model, _json(version), role, status, output, count)


def _scores(*, service: Service, since: datetime, until: datetime) -> Iterator[Score]:
    if connection.vendor == "postgresql":
        return _grouped_scores(service=service, since=since, until=until)
    # SQLite (local development): the same numbers, counted here.
    return scores_of(labelled_decisions(service=service, since=since, until=until))


@dataclass(frozen=True, slots=True)
class QualityTable:
    labelled_requests: int
    versions: list[LeagueEntry]


def quality_table(*, service: Service, since: datetime, until: datetime) -> QualityTable:
    """The league table of the versions that took part in the labelled decisions of the window."""
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT count(*) {_labelled_join()}", _window_params(service, since, until))
        (labelled_requests,) = cursor.fetchone()
    tallies = tally_scores(_scores(service=service, since=since, until=until))
    return QualityTable(labelled_requests=labelled_requests, versions=league_table(tallies))


def quality_by_version(service: Service, since: datetime, until: datetime) -> dict[tuple[str, int], Quality]:
    """(model, version) → its Quality over the labelled decisions made in ``[since, until)``.

    For ``GET …/metrics`` (quality fields per deployment); a version absent from the answer took part in
    no labelled decision of the window. One query.
    """
    tallies = tally_scores(_scores(service=service, since=since, until=until))
    return {key: tally.quality() for key, tally in tallies.items()}
