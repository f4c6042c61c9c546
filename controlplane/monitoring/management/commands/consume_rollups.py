"""``manage.py consume_rollups``: roll every service's decisions up per deployment and minute.

Run one or more (they share the ``rdv-rollups`` group). SIGTERM/SIGINT stop it after the current batch is
stored and committed.
"""

from __future__ import annotations

import signal
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from controlplane.monitoring.consumer import BATCH_SIZE, GROUP_ID, RollupsConsumer, RollupsConsumerSettings
from streaming import collector


class Command(BaseCommand):
    help = "Consume rdv.<tenant>.<service>.decisions into per-deployment minute roll-ups."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--group", default=GROUP_ID, help=f"consumer group (default {GROUP_ID})")
        parser.add_argument("--batch-size", type=int, default=BATCH_SIZE, help="records stored per commit, at most")

    def handle(self, *args: Any, **options: Any) -> None:
        consumer = RollupsConsumer(
            RollupsConsumerSettings.from_django(group_id=options["group"], batch_size=options["batch_size"])
        )
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda *_: consumer.stop())
        collector.tune()
        consumer.run()
        self.stdout.write(
            f"[rollups] stopped: {consumer.stored} decisions counted, {consumer.dead_letters} dead letters"
        )
