"""The rendezvous under the things production does to it: many users, poison records, a crash.

Each test runs real ``python -m rendezvous_worker`` processes on the real broker; the test plays the
clients and the model runners (see ``harness``).
"""

from __future__ import annotations

import base64
import random
import time
from collections import Counter, defaultdict

import pytest

from contracts.codec import encode
from rendezvous_worker.policy import choose_champion
from tests.rendezvous_worker.integration.conftest import ServiceFactory
from tests.rendezvous_worker.integration.harness import PARTITIONS, Inbox, deployment, error, ok

CHAMPION = deployment("champ", "champion", weight=100)
SHADOW = deployment("shadow", "challenger")
BACKUP = deployment("backup", "fallback", rank=1)


def test_a_user_stays_in_one_arm_whichever_instance_decides(make_service: ServiceFactory) -> None:
    arm_a = deployment("arm-a", "champion", weight=90)
    arm_b = deployment("arm-b", "champion", weight=10)
    service = make_service("confluent", (arm_a, arm_b), deadline_ms=5000)
    first, second = service.start_worker(), service.start_worker()
    plan = {"arm-a": ok(0), "arm-b": ok(0)}
    service.warm_up(plan)
    assert first.assigned_partitions() > 0 and second.assigned_partitions() > 0, service.output()

    users = [f"user-{n}" for n in range(60)]
    sent = []
    for round_ in range(5):
        for n, user in enumerate(users):
            # Each round puts a user on another partition, so both instances decide for every user.
            partition = (n + round_) % PARTITIONS
            sent.append((user, service.send(plan, user_key=user, partition=partition, flush=False)))
        service.producer.flush(10)
    assert len(sent) == 300

    arms: dict[str, set[str]] = defaultdict(set)
    for user, request in sent:
        result = service.result(request.request_id).message
        assert (result.status, result.reason) == ("ok", "champion")
        arms[user].add(result.model)
    assert all(len(models) == 1 for models in arms.values()), {u: m for u, m in arms.items() if len(m) > 1}
    split = Counter(next(iter(models)) for models in arms.values())
    assert split["arm-a"] > split["arm-b"] > 0, split
    # The same arm any other process computes for the user (the stable hash, not a per-process one).
    for user, models in arms.items():
        chosen = choose_champion((arm_a, arm_b), user)
        assert chosen is not None and models == {chosen.model}


@pytest.mark.parametrize("client", ["confluent", "kafka-python"])
def test_poison_records_go_to_the_dead_letter_topic_and_answers_go_on(
    client: str, make_service: ServiceFactory
) -> None:
    service = make_service(client, (CHAMPION,), deadline_ms=3000)
    worker = service.start_worker()
    service.warm_up({"champ": ok(0)})

    topics = service.topics
    poison = {
        # key: (topic, partition, value, the message type the error names)
        f"{service.tenant}-not-json": (topics.requests, 1, b"{not json", "Request:"),
        f"{service.tenant}-wrong-shape": (topics.requests, 2, b'{"request_id": 7, "inputs": []}', "Request:"),
        f"{service.tenant}-score-shape": (topics.scores, 3, b'{"request_id": "x", "model": 1}', "Score:"),
        f"{service.tenant}-score-bytes": (topics.scores, 0, b"\xff\xfe\x00garbage", "Score:"),
    }
    for key, (topic, partition, value, _) in poison.items():
        service.produce_raw(topic, value, key=key.encode(), partition=partition)

    # Good records behind the poison on every partition are still answered.
    requests = [service.send({"champ": ok(0)}, partition=p) for p in range(PARTITIONS)]
    for request in requests:
        assert service.result(request.request_id).message.reason == "champion"

    def arrived(inbox: Inbox) -> bool:
        return poison.keys() <= {letter.key for letter in inbox.dead_letters}

    assert service.collector.wait_until(arrived, 10), f"{service.collector.dead_letters()}\n{service.output()}"
    letters = {letter.key: letter for letter in service.collector.dead_letters() if letter.key in poison}
    for key, (topic, partition, value, error_prefix) in poison.items():
        letter = letters[key]
        assert (letter.topic, letter.partition) == (topic, partition)
        assert letter.error.startswith(error_prefix), letter.error
        kept = base64.b64decode(letter.value) if letter.encoding == "base64" else letter.value.encode()
        assert kept == value, "the bad record's bytes are kept as they were"
    assert worker.process.poll() is None, "a poison record must never stop the worker"


def test_an_instance_joining_loses_no_decision_record(make_service: ServiceFactory) -> None:
    """Scaling out moves partitions while answered requests still collect late scores (grace)."""
    service = make_service("confluent", (CHAMPION, SHADOW), deadline_ms=300, grace_ms=3000)
    service.start_worker()
    service.warm_up({"champ": ok(0)})
    requests = [service.send({"champ": ok(0), "shadow": ok(50)}, partition=p % PARTITIONS) for p in range(8)]
    for request in requests:
        assert service.result(request.request_id).message.reason == "champion"

    service.start_worker()  # the group rebalances while every decision is still open
    for request in requests:
        decision = service.decision(request.request_id, timeout=8)
        assert (decision.status, decision.reason, decision.model) == ("ok", "champion", "champ")
        assert {c.model: c.status for c in decision.candidates} == {"champ": "ok", "shadow": "ok"}


# Per request kind: what the scripted runners do, and the answer a client must get. The in-time scores
# come long before the 800 ms deadline and the late ones long after it, so a busy machine cannot blur
# which is which; the late champion still arrives within the grace period, so it is recorded as late.
LOAD_DEADLINE_MS, LOAD_GRACE_MS = 800, 1200
LATE_MS = 1800
LOAD_KINDS = {
    "healthy": ({"champ": ok(5), "shadow": ok(10), "backup": ok(15)}, ("ok", "champion", "champ")),
    "champion-errors": ({"champ": error(0), "shadow": ok(5), "backup": ok(10)}, ("ok", "fallback", "backup")),
    "champion-late": ({"champ": ok(LATE_MS), "backup": ok(20)}, ("ok", "deadline", "backup")),
    "nothing-in-time": ({"champ": ok(LATE_MS)}, ("timeout", "timeout", None)),
    "nobody-answers": ({}, ("timeout", "timeout", None)),
}
# The champion fails one request in five at most: not enough to be demoted, which would change answers.
MIX = ["healthy"] * 12 + ["champion-errors", "champion-late", "nothing-in-time", "nobody-answers"] * 2


def test_killing_one_of_two_instances_under_load_loses_no_request(make_service: ServiceFactory) -> None:
    service = make_service(
        "confluent", (CHAMPION, SHADOW, BACKUP), deadline_ms=LOAD_DEADLINE_MS, grace_ms=LOAD_GRACE_MS
    )
    # A short session lets the survivor take the dead instance's partitions over in seconds.
    session = {"RDV_CONSUMER_SESSION_TIMEOUT_MS": "6000"}
    victim, survivor = service.start_worker(**session), service.start_worker(**session)
    service.warm_up({"champ": ok(0)})
    assert victim.assigned_partitions() > 0 and survivor.assigned_partitions() > 0, service.output()

    rate, seconds, kill_after = 150, 4.0, 1.5
    rng = random.Random(7)
    sent = []
    start = time.time()
    for n in range(int(rate * seconds)):
        time.sleep(max(0.0, start + n / rate - time.time()))
        if victim.process.poll() is None and time.time() - start >= kill_after:
            victim.kill()
        kind = rng.choice(MIX)
        sent.append((kind, service.send(LOAD_KINDS[kind][0], partition=rng.randrange(PARTITIONS), flush=False)))
        service.producer.poll(0)
    service.producer.flush(10)
    assert victim.process.returncode == -9

    ids = {request.request_id for _, request in sent}
    answered = service.collector.wait_until(lambda inbox: ids <= inbox.results.keys(), timeout=40)
    missing = [rid for rid in ids if not service.collector.results(rid)]
    assert answered, f"{len(missing)} of {len(ids)} requests never answered\n{service.output()}"

    duplicates, differing, wrong = 0, [], []
    for kind, request in sent:
        received = service.collector.results(request.request_id)
        results = [r.message for r in received]
        duplicates += len(results) - 1
        if any(encode(r) != encode(results[0]) for r in results):
            differing.append((kind, results))
        if {(r.status, r.reason, r.model) for r in results} != {LOAD_KINDS[kind][1]}:
            # kind, answers, sent (s after the load began), answered (s after sending), partition
            wrong.append((kind, results, round(request.sent_at - start, 2),
                          round(received[0].timestamp - request.sent_at, 2), received[0].partition))
    assert not differing, f"{len(differing)} requests got different answers: {differing[:5]}"
    assert not wrong, f"{len(wrong)} requests got the wrong answer: {wrong[:10]}"
    # Work the dead instance had not committed was decided again: the duplicates above were checked.
    assert duplicates > 0, "the kill forced no replay; the test no longer exercises recovery"
