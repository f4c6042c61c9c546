import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from contracts.codec import encode
from contracts.messages import Request
from contracts.provenance import Refused, admit_request, admit_scores
from rendezvous_worker.rendezvous import Answer, Finished, Record, Rendezvous, batch_decisions, close_tick
from tests.contracts.test_provenance import bodies
from tests.rendezvous_worker.builders import config, deployment, request, score

CHAMPION = deployment("m", 1, "champion")
CHALLENGER = deployment("m", 4, "challenger")
REQ_REF = ("rdv.acme.fraud.requests", 2, 10)


def scores_ref(offset: int) -> tuple[str, int, int]:
    return ("rdv.acme.fraud.scores", 2, offset)


def make(cfg=None) -> Rendezvous:
    cfg = cfg or config(CHAMPION, CHALLENGER)
    return Rendezvous(lambda tenant, service: cfg)


def test_champion_score_answers_at_once_and_the_record_follows_after_grace():
    rdv = make()
    assert rdv.on_request(request(), REQ_REF, now=1000.001) == []
    [answer] = rdv.on_score(score("m", 1), scores_ref(5), now=1000.011)
    assert isinstance(answer, Answer)
    assert (answer.result.status, answer.result.model, answer.result.reason) == ("ok", "m", "champion")
    assert answer.partition == 2 and answer.refs == [REQ_REF, scores_ref(5)]
    assert answer.result.latency_ms == 10.0
    # A challenger arriving later is late: logged, never the answer.
    [finished] = rdv.on_score(score("m", 4, role="challenger"), scores_ref(6), now=1000.02)
    assert isinstance(finished, Finished)
    assert rdv.on_tick(1000.3) == []
    [record] = rdv.on_tick(1000.7)
    assert isinstance(record, Record)
    by_version = {c.version: c for c in record.decision.candidates}
    assert by_version[4].late and by_version[4].role == "challenger" and not by_version[1].late
    assert len(rdv) == 0


def test_score_before_request_is_kept_and_used():
    rdv = make()
    assert rdv.on_score(score("m", 1), scores_ref(5), now=1000.005) == []
    [answer] = rdv.on_request(request(), REQ_REF, now=1000.006)
    assert answer.result.model == "m" and answer.result.reason == "champion"


def test_nothing_arrives_so_the_deadline_answers_timeout():
    rdv = make()
    rdv.on_request(request(deadline_ms=100), REQ_REF, now=1000.0)
    assert rdv.next_wakeup() == 1000.1
    assert rdv.on_tick(1000.099) == []
    [answer] = rdv.on_tick(1000.1)
    assert answer.result.status == "timeout" and answer.result.latency_ms == 100.0


def test_replayed_request_is_decided_again_with_identical_content():
    first, second = make(), make()
    first.on_request(request(), REQ_REF, now=1000.001)
    [a] = first.on_score(score("m", 1), scores_ref(5), now=1000.011)
    # Another instance re-reads both records long after the deadline.
    second.on_request(request(), REQ_REF, now=1005.0)
    [b] = second.on_score(score("m", 1), scores_ref(5), now=1005.0)
    assert a.result == b.result


def test_orphan_score_expires_and_is_finished():
    rdv = Rendezvous(lambda t, s: config(CHAMPION), orphan_ttl_s=5)
    rdv.on_score(score("m", 1, request_id="ghost"), scores_ref(1), now=1000.0)
    [finished] = rdv.on_tick(1005.0)
    assert isinstance(finished, Finished) and finished.refs == [scores_ref(1)]


def test_revoked_partition_drops_its_pending_requests():
    rdv = make()
    rdv.on_request(request(), REQ_REF, now=1000.0)
    rdv.drop_partitions({("rdv.acme.fraud", 2)})
    assert len(rdv) == 0


def test_replayed_request_waits_briefly_for_its_scores_before_the_deadline_rule():
    rdv = Rendezvous(lambda t, s: config(CHAMPION), replay_settle_s=0.25)
    rdv.note_assigned({("rdv.acme.fraud", 2)}, now=1004.9)  # just taken over from a crashed instance
    assert rdv.on_request(request(), REQ_REF, now=1005.0) == []
    assert rdv.on_tick(1005.1) == []
    [answer] = rdv.on_tick(1005.25)
    assert answer.result.status == "timeout"


def test_a_request_that_merely_arrived_late_is_decided_at_once():
    rdv = Rendezvous(lambda t, s: config(CHAMPION), replay_settle_s=0.25, replay_window_s=10)
    rdv.note_assigned({("rdv.acme.fraud", 2)}, now=900.0)  # owned for long: no replay
    assert rdv.on_request(request(), REQ_REF, now=1005.0) == []
    [answer] = rdv.on_tick(1005.0)
    assert answer.result.status == "timeout" and answer.result.latency_ms == 100.0


def test_only_scores_produced_by_the_deadline_may_answer_and_later_ones_are_marked_late():
    rdv = make()
    rdv.note_assigned({("rdv.acme.fraud", 2)}, now=1004.9)
    rdv.on_request(request(deadline_ms=100), REQ_REF, now=1005.0)
    # Produced after the deadline (1000.1): present when the request is re-read, but never the answer.
    assert rdv.on_score(score("m", 1, scored_at=1000.3), scores_ref(5), now=1005.0) == []
    [answer] = rdv.on_tick(1005.25)
    assert answer.result.status == "timeout"
    [record] = rdv.on_tick(1006.5)
    [champion] = [c for c in record.decision.candidates if c.version == 1]
    assert champion.status == "ok" and champion.late


def test_answered_requests_of_revoked_partitions_are_closed_with_their_record():
    rdv = make()
    rdv.on_request(request(), REQ_REF, now=1000.001)
    rdv.on_score(score("m", 1), scores_ref(5), now=1000.011)
    [record] = rdv.close_answered({("rdv.acme.fraud", 2)}, now=1000.02)
    assert isinstance(record, Record) and record.decision.reason == "champion"
    assert len(rdv) == 0


def test_a_score_on_another_services_stream_never_meets_a_request_of_the_same_id():
    """Request ids are chosen by clients: a tenant's score naming another tenant's request id (on its own
    scores topic, where the body check lets it through) must not answer that request."""
    rdv = make()
    assert rdv.on_request(request(), REQ_REF, now=1000.001) == []
    forged = score("m", 1, label=666)
    forged.tenant, forged.service = "mallory", "fraud"
    assert rdv.on_score(forged, ("rdv.mallory.fraud.scores", 2, 5), now=1000.005) == []
    [answer] = rdv.on_score(score("m", 1), scores_ref(6), now=1000.011)
    assert isinstance(answer, Answer) and answer.result.output == {"label": 1}
    assert answer.refs == [REQ_REF, scores_ref(6)]
    [record] = rdv.on_tick(1000.101 + 0.5)
    assert isinstance(record, Record) and [c.output for c in record.decision.candidates if c.output] == [{"label": 1}]
    # The forged score waits alone for a request of its own stream, then expires as an orphan.
    [finished] = rdv.on_tick(1000.005 + 30.0)
    assert isinstance(finished, Finished) and finished.refs == [("rdv.mallory.fraud.scores", 2, 5)]


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(events=st.lists(st.tuples(st.booleans(), bodies(), st.floats(0, 5)), max_size=12))
def test_no_record_content_makes_the_rendezvous_raise_or_answer_for_another_service(events) -> None:
    """What the worker does with every record it reads (admit, then decide), on fuzzed bytes."""
    rdv = make(config(CHAMPION, CHALLENGER, deployment("b", 1, "fallback", rank=1)))
    now, outcomes, latest_deadline = 1000.0, [], 0.0
    for offset, (is_request, value, step) in enumerate(events):
        now += step
        if is_request:
            admitted = admit_request(value, REQ_REF[0], replies_partitions=lambda _reply_to: 16)
            if isinstance(admitted, Request):
                latest_deadline = max(latest_deadline, admitted.deadline_at)
                outcomes += rdv.on_request(admitted, (REQ_REF[0], 2, offset), now)
        else:
            admitted = admit_scores(value, scores_ref(0)[0])  # a ScoreBatch or a single Score
            if not isinstance(admitted, Refused):
                outcomes += rdv.on_scores(admitted, (scores_ref(0)[0], 2, offset), now)
        outcomes += rdv.on_tick(now)
    # Past every deadline (a far-off deadline keeps its request until then), then past the grace periods.
    end = max(now, latest_deadline) + 10_000.0
    outcomes += rdv.on_tick(end) + rdv.on_tick(end + 10_000.0)
    for outcome in outcomes:
        message = outcome.result if isinstance(outcome, Answer) else getattr(outcome, "decision", None)
        if message is not None:
            assert (message.tenant, message.service) == ("acme", "fraud")
            assert encode(message)
    assert len(rdv) == 0, "everything is closed or expired in the end"


def test_a_batch_of_scores_answers_each_of_its_requests_and_each_answer_holds_the_batch_record():
    rdv = make()
    other_ref = ("rdv.acme.fraud.requests", 2, 11)
    rdv.on_request(request(), REQ_REF, now=1000.001)
    rdv.on_request(request("r2"), other_ref, now=1000.002)
    batch = [score("m", 1), score("m", 1, request_id="r2")]
    answers = rdv.on_scores(batch, scores_ref(7), now=1000.011)
    assert [a.result.request_id for a in answers] == ["r1", "r2"]
    assert [a.refs for a in answers] == [[REQ_REF, scores_ref(7)], [other_ref, scores_ref(7)]]


def test_decisions_closed_together_leave_as_one_batch_per_partition():
    """Grace periods end on a shared tick, so requests answered close together close in one on_tick."""
    rdv = make()
    for i, (offset, at) in enumerate([(10, 1000.001), (11, 1000.004), (12, 1000.03)]):
        rdv.on_request(request(f"r{i}"), ("rdv.acme.fraud.requests", 2 if i < 2 else 3, offset), now=at)
        rdv.on_score(score("m", 1, request_id=f"r{i}"), scores_ref(offset), now=at + 0.005)
    closed = rdv.on_tick(1001.2)
    assert len(closed) == 3 and all(isinstance(r, Record) for r in closed)
    batches = batch_decisions(closed)
    assert [(b.partition, [d.request_id for d in b.decisions]) for b in batches] == [(2, ["r0", "r1"]), (3, ["r2"])]


def test_grace_periods_end_on_the_shared_close_tick():
    assert close_tick(1000.0) == pytest.approx(1000.0)
    assert close_tick(1000.001) == pytest.approx(1000.05)
    assert close_tick(1000.05) == pytest.approx(1000.05)
