"""Drift histograms: one grid for everyone, buckets by sent_at, parts that add up, signed reports."""

from __future__ import annotations

import random

import msgspec
import pytest

from contracts.codec import decode, encode
from contracts.drift import (
    OTHER_CATEGORY,
    DriftBuckets,
    numeric_bin,
    report_signature_valid,
    sign_report,
    split_report,
)
from contracts.examples import example_bytes
from contracts.messages import DriftReport
from contracts.pool_tokens import DEV_RUNNER_SECRET, pool_token


def test_the_grid_keeps_order_and_is_fine_enough():
    values = sorted(random.Random(1).uniform(-1e6, 1e6) for _ in range(5000)) + [0.0, 1e-12, -1e-12, 1e15, -1e15]
    values.sort()
    bins = [numeric_bin(v) for v in values]
    assert bins == sorted(bins)
    assert numeric_bin(0.0) == numeric_bin(1e-12) == 0
    assert numeric_bin(1.0) != numeric_bin(1.05)  # 5 % apart: never one bin
    assert numeric_bin(-2.0) == -numeric_bin(2.0)


def _buckets(runner: str, token: str | None = None) -> DriftBuckets:
    return DriftBuckets("t", "svc", bucket_s=10.0, pool="p", runner=runner, token=token, quiet_s=2.0)


def test_buckets_follow_sent_at_and_wait_for_quiet_after_their_end():
    buckets = _buckets("r1")
    buckets.add({"x": 1.0, "c": "fr"}, sent_at=100.5, now=0.0)
    buckets.add({"x": 2.0}, sent_at=109.9, now=1.0)
    buckets.add({"x": 3.0, "c": "de"}, sent_at=110.0, now=1.0)
    assert buckets.due(wall_now=109.0, now=10.0) == []  # not ended
    assert buckets.due(wall_now=111.0, now=2.5) == []  # ended, but a request joined 1.5 s ago
    [first] = buckets.due(wall_now=111.0, now=3.0)
    assert (first.bucket_start, first.count, first.first_sent_at, first.last_sent_at) == (100.0, 2, 100.5, 109.9)
    by_feature = {f.feature: f for f in first.features}
    assert sum(by_feature["x"].numeric.values()) == 2 and by_feature["x"].missing == 0
    assert by_feature["c"].categories == {"fr": 1} and by_feature["c"].missing == 1
    [second] = buckets.flush()  # a graceful stop reports the open bucket too
    assert second.bucket_start == 110.0 and buckets.open_buckets == 0


def test_two_runners_parts_add_up_to_one_runners_counts():
    rng = random.Random(5)
    rows = [({"x": rng.gauss(0, 1), "c": rng.choice("abc")}, 100 + rng.random() * 10) for _ in range(400)]
    alone, left, right = _buckets("all"), _buckets("a"), _buckets("b")
    for index, (row, sent_at) in enumerate(rows):
        alone.add(row, sent_at, 0.0)
        (left if index % 2 else right).add(row, sent_at, 0.0)

    def total(reports: list[DriftReport]) -> dict[str, dict]:
        summed: dict[str, dict] = {}
        for report in reports:
            for feature in report.features:
                into = summed.setdefault(feature.feature, {})
                for key, count in [*feature.numeric.items(), *feature.categories.items()]:
                    into[key] = into.get(key, 0) + count
        return summed

    assert total(left.flush() + right.flush()) == total(alone.flush())


def test_categories_are_capped_per_part():
    buckets = _buckets("r1")
    for i in range(300):
        buckets.add({"id": f"user-{i}"}, 100.0, 0.0)
    [report] = buckets.flush()
    categories = report.features[0].categories
    assert len(categories) == 257 and categories[OTHER_CATEGORY] == 300 - 256


def test_a_large_report_is_split_by_feature_and_keeps_every_count():
    buckets = _buckets("r1")
    for i in range(2000):
        buckets.add({f"f{j}": i * 1.01 ** j for j in range(40)}, 100.0, 0.0)
    [whole] = buckets.flush()
    parts = split_report(whole, max_bytes=20_000)
    assert len(parts) > 1 and all(len(encode(p)) <= 20_000 for p in parts)
    assert len({p.report_id for p in parts}) == len(parts) and parts[0].report_id == whole.report_id
    assert [f for p in parts for f in p.features] == whole.features


def test_signatures_bind_the_report_to_its_pools_token():
    token = pool_token(secret=DEV_RUNNER_SECRET, pool="p")
    buckets = _buckets("r1", token=token)
    buckets.add({"x": 1.0}, 100.0, 0.0)
    [report] = buckets.flush()
    travelled = decode(DriftReport, encode(report))
    assert report_signature_valid(travelled, token)
    assert not report_signature_valid(travelled, pool_token(secret=DEV_RUNNER_SECRET, pool="other"))
    assert not report_signature_valid(msgspec.structs.replace(travelled, service="other"), token)
    assert not report_signature_valid(msgspec.structs.replace(travelled, count=99), token)
    unsigned = sign_report(travelled, token)
    assert unsigned.signature == travelled.signature


def test_the_example_report_is_signed_for_the_default_pool_with_the_development_secret():
    report = decode(DriftReport, example_bytes("drift_report"))
    assert report_signature_valid(report, pool_token(secret=DEV_RUNNER_SECRET, pool=report.pool))


@pytest.mark.parametrize("bucket_s", [0.0, -1.0])
def test_buckets_must_have_a_length(bucket_s: float):
    with pytest.raises(ValueError, match="bucket_s"):
        DriftBuckets("t", "s", bucket_s=bucket_s, pool="p", runner="r")
