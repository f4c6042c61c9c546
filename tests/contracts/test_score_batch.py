"""One scores record per scoring call and partition (DESIGN.md §3, *changed (runtime)*)."""

from __future__ import annotations

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from contracts.codec import DecodeError, decode_scores, encode, to_builtins
from contracts.messages import Score, ScoreBatch, pack_scores
from contracts.provenance import Refused, admit_scores
from tests.contracts.test_provenance import FIELDS, OWN_SCORES, bodies


def score(request_id: str, *, tenant: str = "acme", status: str = "ok", scored_at: float = 1000.05) -> Score:
    return Score(
        request_id=request_id, tenant=tenant, service="fraud", model="m", version=1, role="champion",
        status=status,  # type: ignore[arg-type]
        output={"label": 1} if status == "ok" else None, error=None if status == "ok" else "boom",
        latency_ms=1.5, runner="r", scored_at=scored_at,
    )


def test_a_scoring_calls_scores_travel_as_one_batch_and_unpack_unchanged():
    scores = [score("a"), score("b", status="error"), score("c")]
    [batch] = pack_scores(scores)
    assert len(batch.scores) == 3
    assert decode_scores(encode(batch)) == scores


def test_scores_that_do_not_share_their_calls_fields_are_never_merged():
    scores = [score("a"), score("b", scored_at=1000.06), score("c", scored_at=1000.06)]
    batches = pack_scores(scores)
    assert [len(b.scores) for b in batches] == [1, 2]
    assert [s for b in batches for s in b.unpack()] == scores


def test_a_single_score_record_is_still_read():
    """Runners not yet upgraded keep writing single Scores; the rendezvous reads both."""
    assert decode_scores(encode(score("a"))) == [score("a")]
    assert admit_scores(encode(score("a")), OWN_SCORES) == [score("a")]


def test_a_batch_whose_scores_name_another_tenant_is_refused_whole():
    [forged] = pack_scores([score("a", tenant="victim"), score("b", tenant="victim")])
    refused = admit_scores(encode(forged), OWN_SCORES)
    assert isinstance(refused, Refused) and "victim" in refused.reason


def test_a_broken_record_is_refused_with_the_error_of_the_shape_it_was_meant_to_have():
    refused = admit_scores(b'{"request_id": "x", "model": 1}', OWN_SCORES)
    assert isinstance(refused, Refused) and refused.reason.startswith("Score:")
    refused = admit_scores(b'{"model": "m", "scores": [{"request_id": 1}]}', OWN_SCORES)
    assert isinstance(refused, Refused) and refused.reason.startswith("ScoreBatch:")
    with pytest.raises(DecodeError, match="^Score:"):
        decode_scores(b"\xff")


@st.composite
def batch_bodies(draw: st.DrawFn) -> bytes:
    """ScoreBatch-shaped bodies with fuzzed shared fields and items (tenant and service included)."""
    base = to_builtins(pack_scores([score("a"), score("b", status="error")])[0])
    for name in draw(st.lists(st.sampled_from(sorted(FIELDS)), max_size=3)):
        base[name] = draw(FIELDS[name])
    for item in base["scores"]:
        for name in draw(st.lists(st.sampled_from(["request_id", "status", "tenant"]), max_size=2)):
            item[name] = draw(FIELDS[name])
    return msgspec.json.encode(base)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(value=st.one_of(bodies(), batch_bodies()))
def test_admitting_any_bytes_as_scores_never_raises_and_every_admitted_score_agrees(value: bytes | None) -> None:
    admitted = admit_scores(value, OWN_SCORES)
    if isinstance(admitted, Refused):
        assert admitted.reason
        return
    assert all((s.tenant, s.service) == ("acme", "fraud") for s in admitted)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(value=bodies())
def test_any_admitted_single_score_is_also_admitted_inside_a_batch(value: bytes | None) -> None:
    """The batch path checks what the single path checks: wrapping a score never launders it."""
    try:
        single = msgspec.json.decode(value or b"null", type=Score)
    except (msgspec.DecodeError, msgspec.ValidationError):
        return
    [batch] = pack_scores([single])
    assert isinstance(admit_scores(encode(batch), OWN_SCORES), Refused) == isinstance(
        admit_scores(encode(single), OWN_SCORES), Refused
    )
    assert isinstance(batch, ScoreBatch)
