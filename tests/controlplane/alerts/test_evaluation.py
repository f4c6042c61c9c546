"""Raise on the first breach, update while it lasts, clear when back, never on silence."""

from __future__ import annotations

import pytest

from controlplane.alerts.evaluation import Firing, Signal, evaluate

ALL = {"p99", "error_rate", "drift"}


def test_a_breach_raises_and_a_value_at_the_threshold_does_not() -> None:
    out = evaluate([Signal("p99", "", 250.0, 200.0), Signal("error_rate", "", 0.05, 0.05)], {}, watched=ALL)

    assert [r.signal.kind for r in out.raised] == ["p99"]
    assert not out.updated and not out.cleared


def test_a_firing_alert_is_updated_with_its_worst_value_then_cleared_when_back() -> None:
    firing = {("p99", ""): Firing(("p99", ""), 300.0)}

    still = evaluate([Signal("p99", "", 250.0, 200.0)], firing, watched=ALL)
    back = evaluate([Signal("p99", "", 150.0, 200.0)], firing, watched=ALL)

    assert [(u.value, u.worst) for u in still.updated] == [(250.0, 300.0)]
    assert not still.raised and not still.cleared
    assert [(c.key, c.value) for c in back.cleared] == [(("p99", ""), 150.0)]


def test_no_value_changes_nothing() -> None:
    firing = {("drift", "age"): Firing(("drift", "age"), 0.9)}

    out = evaluate([Signal("drift", "age", None, 0.2), Signal("p99", "", None, 100.0)], firing, watched=ALL)

    assert not out.raised and not out.updated and not out.cleared


def test_an_alert_whose_kind_is_no_longer_watched_clears() -> None:
    firing = {("error_rate", ""): Firing(("error_rate", ""), 0.4)}

    out = evaluate([], firing, watched={"p99"})

    assert [c.key for c in out.cleared] == [("error_rate", "")]


def test_each_subject_is_its_own_alert() -> None:
    signals = [Signal("drift", "age", 0.5, 0.2), Signal("drift", "income", 0.05, 0.2)]

    out = evaluate(signals, {}, watched=ALL)

    assert [r.signal.subject for r in out.raised] == ["age"]


def test_two_signals_for_one_alert_are_a_bug() -> None:
    with pytest.raises(ValueError, match="two signals"):
        evaluate([Signal("p99", "", 1.0, 0.0), Signal("p99", "", 2.0, 0.0)], {}, watched=ALL)
