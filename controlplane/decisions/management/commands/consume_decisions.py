"""``manage.py consume_decisions``: keep decision records for lookup, from every service's decisions topic.

Run one or more (they share the ``rdv-decisions`` group). SIGTERM/SIGINT stop it after the current
batch is stored and committed.
"""

from __future__ import annotations

import signal
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from controlplane.decisions.consumer import GROUP_ID, DecisionsConsumer, DecisionsConsumerSettings
from streaming import collector


class Command(BaseCommand):
    help = "Consume rdv.<tenant>.<service>.decisions into decision records (with retention)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--group", default=GROUP_ID, help=f"consumer group (default {GROUP_ID})")
        parser.add_argument("--batch-size", type=int, default=500, help="records stored per commit, at most")

    def handle(self, *args: Any, **options: Any) -> None:
        consumer = DecisionsConsumer(
            DecisionsConsumerSettings.from_django(group_id=options["group"], batch_size=options["batch_size"])
        )
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda *_: consumer.stop())
        collector.tune()
        consumer.run()
        self.stdout.write(f"[decisions] stopped: {consumer.stored} stored, {consumer.dead_letters} dead letters")
