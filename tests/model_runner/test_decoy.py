"""The archive record's time: the request's sent_at, unless the broker would refuse it."""

from model_runner.decoy import archive_timestamp_ms

NOW = 1_800_000_000.0


def test_archive_records_carry_sent_at_so_the_export_can_seek_by_it():
    assert archive_timestamp_ms(NOW - 3600.25, NOW) == int((NOW - 3600.25) * 1000)


def test_a_sent_at_in_the_future_or_nonsense_is_stamped_now():
    assert archive_timestamp_ms(NOW + 7200, NOW) == int(NOW * 1000)  # a client clock running fast
    assert archive_timestamp_ms(0.0, NOW) == int(NOW * 1000)
    assert archive_timestamp_ms(-5.0, NOW) == int(NOW * 1000)
    assert archive_timestamp_ms(float("nan"), NOW) == int(NOW * 1000)
