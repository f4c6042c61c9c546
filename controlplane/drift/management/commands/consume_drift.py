"""``manage.py consume_drift``: the canary runners' drift reports, merged per bucket and scored.

Run one or more (they share the ``rdv-drift`` group). SIGTERM/SIGINT stop it after the current batch
is stored and committed.
"""

from __future__ import annotations

import signal
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from controlplane.drift.consumer import GROUP_ID, DriftConsumer, DriftConsumerSettings


class Command(BaseCommand):
    help = "Consume rdv.drift into drift buckets merged over every runner and scored per feature (with retention)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--group", default=GROUP_ID, help=f"consumer group (default {GROUP_ID})")

    def handle(self, *args: Any, **options: Any) -> None:
        consumer = DriftConsumer(DriftConsumerSettings.from_django(group_id=options["group"]))
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda *_: consumer.stop())
        consumer.run()
        self.stdout.write(f"[drift] stopped: {consumer.stored} stored, {consumer.dead_letters} dead letters")
