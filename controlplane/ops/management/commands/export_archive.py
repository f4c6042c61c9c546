"""``manage.py export_archive``: a time range of a service's archive to JSONL or Parquet, for training.

    python manage.py export_archive --tenant acme --service churn --since 2h --format parquet --output churn.parquet

The progress bar goes to stderr, the summary line to stdout. The reading is controlplane.ops.archive_export.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from contracts.kafka import KafkaError
from contracts.topics import is_valid_slug
from controlplane.ops.archive_export import FORMATS, ExportError, TimeRange, export_archive, parse_when


class Command(BaseCommand):
    help = "Export the archived requests (what the decoy kept) of a time range to JSONL or Parquet."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--tenant", required=True)
        parser.add_argument("--service", required=True)
        parser.add_argument("--since", required=True, help="ISO 8601 (UTC when no zone) or a duration back: 2h, 7d")
        parser.add_argument("--until", default=None, help="same forms; default: now")
        parser.add_argument("--format", choices=FORMATS, default="jsonl")
        parser.add_argument("--output", required=True, type=Path)

    def handle(self, *args: Any, **options: Any) -> None:
        for name in ("tenant", "service"):
            if not is_valid_slug(options[name]):
                raise CommandError(f"--{name} must be a slug, not {options[name]!r}")
        now = time.time()
        self.stderr.ending = ""  # the progress bar ends its own lines (and redraws in place on a terminal)
        try:
            span = TimeRange(
                since=parse_when(options["since"], now=now),
                until=now if options["until"] is None else parse_when(options["until"], now=now),
            )
            summary = export_archive(
                settings.RDV_KAFKA,
                tenant=options["tenant"],
                service=options["service"],
                span=span,
                fmt=options["format"],
                output=options["output"],
                progress_stream=self.stderr,  # type: ignore[arg-type]
            )
        except ExportError as exc:
            raise CommandError(str(exc)) from exc
        except KafkaError as exc:
            raise CommandError(f"Kafka at {settings.RDV_KAFKA.bootstrap_servers}: {exc}") from exc
        self.stdout.write(summary.line())
