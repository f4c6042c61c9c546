from rendezvous_worker.ledger import OffsetLedger


def test_commits_only_up_to_the_lowest_unfinished_offset():
    ledger = OffsetLedger()
    for offset in (5, 6, 7):
        ledger.opened("t", 0, offset)
    ledger.finished("t", 0, 6)
    ledger.finished("t", 0, 7)
    assert ledger.committable() == {("t", 0): 5}
    ledger.finished("t", 0, 5)
    assert ledger.committable() == {("t", 0): 8}
    assert ledger.committable() == {}


def test_records_needing_no_work_still_advance_the_offset():
    ledger = OffsetLedger()
    ledger.seen_done("t", 1, 41)
    assert ledger.committable() == {("t", 1): 42}


def test_a_score_is_committable_only_once_its_request_is():
    ledger = OffsetLedger()
    ledger.opened("req", 0, 10)
    ledger.opened("req", 0, 11)
    ledger.opened("sc", 0, 20)
    ledger.finished("req", 0, 11)
    ledger.finished_after("sc", 0, 20, after=("req", 0, 11))
    # Request 10 is still open, so request 11 is not committed and neither is its score.
    assert ledger.committable() == {("req", 0): 10, ("sc", 0): 20}
    ledger.finished("req", 0, 10)
    assert ledger.committable() == {("req", 0): 12, ("sc", 0): 21}


def test_a_scores_batch_is_committable_only_once_every_score_in_it_is_done():
    """One ScoreBatch record carries scores of several requests: committing it when the first request
    is answered would lose the others' scores if the worker crashed before answering them."""
    ledger = OffsetLedger()
    ledger.opened("req", 0, 10)
    ledger.opened("req", 0, 11)
    ledger.opened("sc", 0, 20, count=2)  # the scores of requests 10 and 11
    ledger.finished("req", 0, 10)
    ledger.finished_after("sc", 0, 20, after=("req", 0, 10))
    assert ledger.committable() == {("req", 0): 11, ("sc", 0): 20}
    ledger.finished("req", 0, 11)
    ledger.finished_after("sc", 0, 20, after=("req", 0, 11))
    assert ledger.committable() == {("req", 0): 12, ("sc", 0): 21}
