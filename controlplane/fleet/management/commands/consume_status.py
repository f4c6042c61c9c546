"""``manage.py consume_status``: keep the latest status of every worker, from ``rdv.status``.

Readiness (GET …/readiness) and the automatic fallback read what it stores. Run one or more (they share
the ``rdv-status`` group). SIGTERM/SIGINT stop it after the current batch.
"""

from __future__ import annotations

import signal
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from controlplane.fleet.consumer import GROUP_ID, StatusConsumer, StatusConsumerSettings


class Command(BaseCommand):
    help = "Consume rdv.status into the latest report of every worker and its version placements."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--group", default=GROUP_ID, help=f"consumer group (default {GROUP_ID})")

    def handle(self, *args: Any, **options: Any) -> None:
        consumer = StatusConsumer(StatusConsumerSettings.from_django(group_id=options["group"]))
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda *_: consumer.stop())
        consumer.run()
        self.stdout.write(f"[status] stopped: {consumer.stored} reports stored, {consumer.dead_letters} dead letters")
