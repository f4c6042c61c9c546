"""Export a time range of a service's archive (what the decoy kept) to JSONL or Parquet, for training.

Django-free on purpose (only the contract package, msgspec and pyarrow): ``manage.py export_archive``
is a thin shell around :func:`export_archive`, and the tests drive it directly against the broker.

How it reads: the decoy stamps each archive record with the request's ``sent_at``, so every partition
is sought to the first record at ``since`` (``offsets_for_times``) and read up to the first record at
``until``, both widened by ``SLACK_MS`` because records of one partition are written in arrival order,
not strictly in ``sent_at`` order; rows are then kept when ``since <= sent_at < until``.

One row per request, the same columns in both formats so ``pd.read_parquet`` and
``pd.read_json(lines=True)`` give the same frame: ``request_id``, ``sent_at`` (epoch seconds, float, as in
the Request), ``user_key``, ``config_revision``, then each input as ``inputs.<name>`` and each
external-state field as ``external_state.<name>`` (the dotted names of ``pandas.json_normalize``).
A nested object or list value is kept as its JSON text.
"""

from __future__ import annotations

import re
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal, Protocol, TextIO

import msgspec

from contracts.codec import DecodeError, decode
from contracts.kafka import Admin, Consumer, KafkaSettings, make_admin, make_consumer
from contracts.messages import Request
from contracts.topics import service_topics
from streaming.bounded import ReadStalled, read_ranges

ExportFormat = Literal["jsonl", "parquet"]
FORMATS: tuple[ExportFormat, ...] = ("jsonl", "parquet")
SLACK_MS = 60_000
FIXED_COLUMNS = ("request_id", "sent_at", "user_key", "config_revision")
_RELATIVE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


class ExportError(ValueError):
    """Bad arguments or an archive that cannot be read; the command shows it as its error."""


# -- arguments ---------------------------------------------------------------------------------------


def parse_when(text: str, *, now: float) -> float:
    """Epoch seconds from ISO 8601 (a time without zone is UTC) or a duration back from now (``2h``)."""
    relative = _RELATIVE.match(text)
    if relative:
        return now - float(relative.group(1)) * _UNIT_SECONDS[relative.group(2)]
    try:
        moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise ExportError(
            f"not a time: {text!r} (use ISO 8601 like 2026-11-26T08:00:00Z, or a duration back from now "
            "like 30m, 2h, 7d)"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


@dataclass(frozen=True, slots=True)
class TimeRange:
    since: float
    until: float

    def __post_init__(self) -> None:
        if not self.since < self.until:
            raise ExportError(f"empty time range: since {_iso(self.since)} is not before until {_iso(self.until)}")

    def __contains__(self, sent_at: float) -> bool:
        return self.since <= sent_at < self.until


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat(timespec="seconds")


# -- rows --------------------------------------------------------------------------------------------


def _cell(value: Any) -> Any:
    return msgspec.json.encode(value).decode() if isinstance(value, dict | list) else value


def request_row(request: Request) -> dict[str, Any]:
    row: dict[str, Any] = {
        "request_id": request.request_id,
        "sent_at": request.sent_at,
        "user_key": request.user_key,
        "config_revision": request.config_revision,
    }
    for name, value in request.inputs.items():
        row[f"inputs.{name}"] = _cell(value)
    for name, value in request.external_state.items():
        row[f"external_state.{name}"] = _cell(value)
    return row


class RowWriter(Protocol):
    def write(self, row: dict[str, Any]) -> None: ...
    def close(self) -> None: ...


class JsonlWriter:
    """Streams one JSON object per line; memory stays flat whatever the range."""

    def __init__(self, path: Path) -> None:
        self._file = path.open("wb")
        self._encoder = msgspec.json.Encoder()

    def write(self, row: dict[str, Any]) -> None:
        self._file.write(self._encoder.encode(row))
        self._file.write(b"\n")

    def close(self) -> None:
        self._file.close()


class ParquetWriter:
    """Builds the table in memory (one column per field seen in any row), then writes one file.

    A column whose values pyarrow cannot give one type (say numbers and text) is written as text.
    """

    def __init__(self, path: Path) -> None:
        self._path = path
        self._rows: list[dict[str, Any]] = []
        self._columns: dict[str, None] = dict.fromkeys(FIXED_COLUMNS)

    def write(self, row: dict[str, Any]) -> None:
        self._rows.append(row)
        for name in row:
            if name not in self._columns:
                self._columns[name] = None

    def close(self) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        arrays = {}
        for name in self._columns:
            values = [row.get(name) for row in self._rows]
            try:
                arrays[name] = pa.array(values)
            except (pa.ArrowInvalid, pa.ArrowTypeError):
                arrays[name] = pa.array([None if v is None else msgspec.json.encode(v).decode() for v in values])
        pq.write_table(pa.table(arrays), self._path)


def make_writer(fmt: ExportFormat, path: Path) -> RowWriter:
    if fmt == "jsonl":
        return JsonlWriter(path)
    if fmt == "parquet":
        return ParquetWriter(path)
    raise ExportError(f"unknown format {fmt!r} (use one of {', '.join(FORMATS)})")


# -- progress ----------------------------------------------------------------------------------------


class Progress:
    """A progress line on a stream: redrawn in place on a terminal, a line every few seconds otherwise
    (so a CI log or ``2> file`` shows it too)."""

    def __init__(self, total: int, stream: TextIO, *, width: int = 30) -> None:
        self.total = total
        self.done = 0
        self._stream = stream
        self._width = width
        self._tty = bool(getattr(stream, "isatty", lambda: False)())
        self._interval = 0.2 if self._tty else 2.0
        self._started = time.monotonic()
        self._next_draw = self._started

    def advance(self, count: int = 1) -> None:
        self.done += count
        if time.monotonic() >= self._next_draw:
            self._draw(final=False)

    def finish(self) -> None:
        self._draw(final=True)

    def _draw(self, *, final: bool) -> None:
        now = time.monotonic()
        self._next_draw = now + self._interval
        elapsed = max(now - self._started, 1e-9)
        fraction = 1.0 if self.total == 0 else min(self.done / self.total, 1.0)
        filled = int(fraction * self._width)
        bar = "#" * filled + "-" * (self._width - filled)
        line = (
            f"[{bar}] {self.done:,}/{self.total:,} records {fraction:6.1%} "
            f"{self.done / elapsed:,.0f} rec/s {elapsed:,.1f} s"
        )
        if self._tty:
            self._stream.write("\r" + line + ("\n" if final else ""))
        else:
            self._stream.write(line + "\n")
        self._stream.flush()


# -- reading -----------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PartitionRange:
    partition: int
    start: int
    end: int  # exclusive

    @property
    def size(self) -> int:
        return max(self.end - self.start, 0)


@dataclass(slots=True)
class ExportSummary:
    topic: str
    rows: int = 0
    read: int = 0
    outside: int = 0
    unreadable: int = 0
    partitions: int = 0
    seconds: float = 0.0
    output: str = ""
    ranges: list[PartitionRange] = field(default_factory=list)

    def line(self) -> str:
        return (
            f"exported {self.rows:,} requests from {self.topic} ({self.partitions} partitions, {self.read:,} "
            f"records read, {self.outside:,} outside the range, {self.unreadable:,} unreadable) to {self.output} "
            f"in {self.seconds:.1f} s"
        )


def plan_ranges(consumer: Consumer, topic: str, partitions: Sequence[int], span: TimeRange) -> list[PartitionRange]:
    """Per partition, the offsets that may hold the range: [first at since - slack, first at until + slack)."""
    since_ms = max(int(span.since * 1000) - SLACK_MS, 0)
    until_ms = int(span.until * 1000) + SLACK_MS
    starts = consumer.offsets_for_times(topic, partitions, since_ms)
    ends = consumer.offsets_for_times(topic, partitions, until_ms)
    ranges = []
    for partition in partitions:
        high = consumer.watermarks(topic, partition)[1]
        start = starts.get(partition)
        end = ends.get(partition)
        ranges.append(
            PartitionRange(partition, high if start is None else start, high if end is None else end)
        )
    return ranges


def read_range(
    consumer: Consumer,
    topic: str,
    ranges: Sequence[PartitionRange],
    span: TimeRange,
    summary: ExportSummary,
    progress: Progress,
    *,
    idle_timeout: float = 30.0,
) -> Iterator[Request]:
    """The archived requests sent within ``span``; stops when every partition reached its end offset."""
    bounds = {r.partition: (r.start, r.end) for r in ranges}
    try:
        for record in read_ranges(consumer, topic, bounds, idle_timeout=idle_timeout):
            summary.read += 1
            progress.advance()
            try:
                request = decode(Request, record.value or b"")
            except DecodeError:
                summary.unreadable += 1
                continue
            if request.sent_at in span:
                yield request
            else:
                summary.outside += 1
    except ReadStalled as exc:
        raise ExportError(f"the archive stopped answering before the end of the range ({exc.missing})") from exc


def export_archive(
    settings: KafkaSettings,
    *,
    tenant: str,
    service: str,
    span: TimeRange,
    fmt: ExportFormat,
    output: Path,
    progress_stream: TextIO | None = None,
) -> ExportSummary:
    topic = service_topics(tenant, service).archive
    if fmt not in FORMATS:
        raise ExportError(f"unknown format {fmt!r} (use one of {', '.join(FORMATS)})")
    started = time.monotonic()
    admin: Admin = make_admin(settings)
    try:
        partitions = admin.partition_count(topic)
    finally:
        admin.close()
    if partitions is None:
        raise ExportError(f"no archive for {tenant}/{service}: topic {topic} does not exist")
    summary = ExportSummary(topic=topic, partitions=partitions, output=str(output))
    consumer = make_consumer(settings, group_id=None)
    try:
        summary.ranges = plan_ranges(consumer, topic, range(partitions), span)
        progress = Progress(sum(r.size for r in summary.ranges), progress_stream or sys.stderr)
        output.parent.mkdir(parents=True, exist_ok=True)
        # Written aside and renamed when complete: a failed export never leaves a file that looks whole.
        partial = output.with_name(output.name + ".partial")
        writer = make_writer(fmt, partial)
        try:
            for request in read_range(consumer, topic, summary.ranges, span, summary, progress):
                writer.write(request_row(request))
                summary.rows += 1
            writer.close()
        except BaseException:
            writer.close()
            partial.unlink(missing_ok=True)
            raise
        partial.replace(output)
        progress.finish()
    finally:
        consumer.close()
    summary.seconds = time.monotonic() - started
    return summary

