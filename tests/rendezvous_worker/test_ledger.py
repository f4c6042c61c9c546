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
