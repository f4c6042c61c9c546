from rendezvous_worker.health import DemotionRules, HealthBoard
from rendezvous_worker.rendezvous import Answer, Rendezvous
from tests.rendezvous_worker.builders import config, deployment, request, score

REF = ("acme", "fraud", "m", 1)
RULES = DemotionRules(window=10, min_samples=5, max_error_rate=0.5)


def test_too_few_samples_never_demote():
    board = HealthBoard(RULES)
    for _ in range(4):
        board.record(REF, ok=False, latency_ms=1, deadline_ms=100)
    assert board.why_demoted(REF, deadline_ms=100) is None


def test_error_rate_demotes_and_recovery_promotes_back():
    board = HealthBoard(RULES)
    for _ in range(6):
        board.record(REF, ok=False, latency_ms=1, deadline_ms=100)
    assert "error rate 100%" in board.why_demoted(REF, deadline_ms=100)
    assert board.demoted([REF, ("acme", "fraud", "m", 2)]) == {REF: board.why_demoted(REF, deadline_ms=100)}
    for _ in range(8):
        board.record(REF, ok=True, latency_ms=1, deadline_ms=100)
    assert board.why_demoted(REF, deadline_ms=100) is None and board.demoted([REF]) == {}


def test_median_latency_past_the_deadline_demotes():
    board = HealthBoard(RULES)
    for _ in range(6):
        board.record(REF, ok=True, latency_ms=250, deadline_ms=100)
    assert "past the 100 ms deadline" in board.why_demoted(REF, deadline_ms=100)


def test_the_median_is_of_the_window_only_and_promotes_back_once_slow_answers_leave_it():
    board = HealthBoard(RULES)
    for latency in (250, 300, 260, 400, 270, 280, 900, 265, 255, 310):
        board.record(REF, ok=True, latency_ms=latency, deadline_ms=100)
    assert "median latency 280 ms" in board.why_demoted(REF, deadline_ms=100)
    for latency in (5, 7, 6, 9):
        board.record(REF, ok=True, latency_ms=latency, deadline_ms=100)
    # Window of 10: six slow answers left, four fast ones in: the median (index 5 of 10 sorted) is slow.
    assert "median latency 265 ms" in board.why_demoted(REF, deadline_ms=100)
    board.record(REF, ok=True, latency_ms=8, deadline_ms=100)
    assert "median latency" in board.why_demoted(REF, deadline_ms=100)
    board.record(REF, ok=True, latency_ms=4, deadline_ms=100)
    assert board.why_demoted(REF, deadline_ms=100) is None


def test_a_failing_champion_is_demoted_and_the_fallback_answers_without_waiting():
    champion, fallback = deployment("m", 1, "champion"), deployment("m", 2, "fallback", rank=1)
    cfg = config(champion, fallback, grace_ms=0)
    rdv = Rendezvous(lambda t, s: cfg, health=HealthBoard(RULES))
    now = 1000.0
    for i in range(6):
        rid = f"warm-{i}"
        rdv.on_request(request(rid, sent_at=now), ("rdv.acme.fraud.requests", 0, i), now)
        rdv.on_score(score("m", 1, ok=False, request_id=rid), ("rdv.acme.fraud.scores", 0, 2 * i), now + 0.001)
        rdv.on_score(score("m", 2, role="fallback", request_id=rid, scored_at=now + 0.002),
                     ("rdv.acme.fraud.scores", 0, 2 * i + 1), now + 0.002)
        rdv.on_tick(now + 1.0)  # closes the decision: its outcomes feed the health board
        now += 1.0
    rdv.on_request(request("next", sent_at=now), ("rdv.acme.fraud.requests", 0, 99), now)
    # The fallback's score alone answers: the demoted champion is no longer waited for.
    [answer] = rdv.on_score(score("m", 2, role="fallback", request_id="next", scored_at=now + 0.003),
                            ("rdv.acme.fraud.scores", 0, 99), now + 0.003)
    assert isinstance(answer, Answer)
    assert (answer.result.version, answer.result.reason) == (2, "demoted")
    rdv.on_score(score("m", 1, ok=False, request_id="next"), ("rdv.acme.fraud.scores", 0, 100), now + 0.004)
    [record] = rdv.on_tick(now + 1.0)
    demoted = {c.version: c.demoted for c in record.decision.candidates}
    assert "error rate" in demoted[1] and demoted[2] is None
