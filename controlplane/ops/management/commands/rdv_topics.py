"""``manage.py rdv_topics``: create the platform topics (config, dead letters, replies) if missing."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from contracts.kafka import KafkaError
from contracts.topology import platform_topics
from controlplane.kafka import topics_ensure


class Command(BaseCommand):
    help = "Ensure the platform Kafka topics exist (idempotent)."

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            created = topics_ensure(platform_topics())
        except KafkaError as exc:
            raise CommandError(f"Kafka at {settings.RDV_KAFKA.bootstrap_servers}: {exc}") from exc
        for spec in platform_topics():
            state = "created" if spec.name in created else "exists"
            self.stdout.write(f"{spec.name}: {state} ({spec.partitions} partitions)")
