"""The archive export's pure parts: times, rows, writers read back by pandas, the progress line."""

from __future__ import annotations

import io
from datetime import UTC, datetime
from pathlib import Path

import pytest

from contracts.messages import Request
from controlplane.ops.archive_export import (
    ExportError,
    Progress,
    TimeRange,
    make_writer,
    parse_when,
    request_row,
)
from tests.controlplane.ops.pandas_reading import read_export

NOW = datetime(2026, 11, 26, 9, 0, tzinfo=UTC).timestamp()


def test_times_are_iso_or_a_duration_back_from_now():
    assert parse_when("2h", now=NOW) == NOW - 7200
    assert parse_when("90m", now=NOW) == NOW - 5400
    assert parse_when("1.5d", now=NOW) == NOW - 1.5 * 86400
    assert parse_when("2026-11-26T08:00:00Z", now=NOW) == NOW - 3600
    assert parse_when("2026-11-26T08:00:00", now=NOW) == NOW - 3600  # no zone: UTC
    assert parse_when("2026-11-26T10:00:00+02:00", now=NOW) == NOW - 3600
    with pytest.raises(ExportError, match="not a time"):
        parse_when("yesterday", now=NOW)
    with pytest.raises(ExportError, match="empty time range"):
        TimeRange(since=NOW, until=NOW - 1)
    span = TimeRange(since=NOW - 10, until=NOW)
    assert NOW - 10 in span and NOW not in span


def _request(index: int, **inputs) -> Request:
    return Request(
        request_id=f"r-{index}",
        tenant="t",
        service="s",
        user_key=None if index % 2 else f"user-{index}",
        sent_at=NOW + index + 0.123456,
        deadline_ms=500,
        config_revision=3,
        inputs=inputs,
        external_state={"hour": 9, "region": {"code": "fr", "tier": 2}},
    )


def test_rows_flatten_inputs_and_external_state_with_dotted_names():
    row = request_row(_request(2, x=1.5, colour="red"))
    assert row == {
        "request_id": "r-2",
        "sent_at": NOW + 2.123456,
        "user_key": "user-2",
        "config_revision": 3,
        "inputs.x": 1.5,
        "inputs.colour": "red",
        "external_state.hour": 9,
        "external_state.region": '{"code":"fr","tier":2}',
    }


@pytest.mark.parametrize("fmt", ["jsonl", "parquet"])
def test_both_formats_read_back_by_pandas_as_the_same_frame(fmt: str, tmp_path: Path):
    requests = [_request(i, x=i * 0.1, n=i, colour=["red", "blue"][i % 2]) for i in range(5)]
    requests.append(_request(5, x=0.5, n="five", extra=True))  # a mixed column and a late-appearing one
    path = tmp_path / f"out.{fmt}"
    writer = make_writer(fmt, path)  # type: ignore[arg-type]
    for request in requests:
        writer.write(request_row(request))
    writer.close()

    frame = read_export(path)
    assert list(frame["request_id"]) == [r.request_id for r in requests]
    assert list(frame["sent_at"]) == [r.sent_at for r in requests]
    assert list(frame["inputs.x"]) == pytest.approx([r.inputs["x"] for r in requests])
    assert list(frame["external_state.hour"]) == [9] * 6
    assert frame["inputs.extra"].isna().sum() == 5
    assert [str(v) for v in frame["inputs.n"]] == ["0", "1", "2", "3", "4", '"five"' if fmt == "parquet" else "five"]
    assert list(frame.columns[:4]) == ["request_id", "sent_at", "user_key", "config_revision"]


def test_progress_without_a_terminal_prints_whole_lines_with_counts_and_rate():
    stream = io.StringIO()
    progress = Progress(200, stream)
    for _ in range(200):
        progress.advance()
    progress.finish()
    lines = stream.getvalue().splitlines()
    assert "\r" not in stream.getvalue()
    assert lines[-1].startswith("[" + "#" * 30 + "] 200/200 records")
    assert "100.0%" in lines[-1] and "rec/s" in lines[-1]
