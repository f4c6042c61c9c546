"""``manage.py scan_drift --tenant T --service S --window 1h``: drift of a service without a canary,
computed from its requests topic over the window's whole buckets and stored like the canary's."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from controlplane.drift.scan import drift_scan
from controlplane.drift.selectors import window_parse
from controlplane.drift.services import DriftSettings
from controlplane.errors import InvalidInput
from controlplane.routing.models import Service


class Command(BaseCommand):
    help = "Compute a service's drift buckets from its requests topic over a window (for services without a canary)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--tenant", required=True)
        parser.add_argument("--service", required=True)
        parser.add_argument("--window", default="1h", help="how far back: 15m, 1h, 7d (default 1h)")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            window = window_parse(options["window"])
        except InvalidInput as exc:
            raise CommandError(str(exc)) from None
        if not Service.objects.filter(tenant__slug=options["tenant"], slug=options["service"]).exists():
            raise CommandError(f"no service {options['tenant']}/{options['service']}")
        summary = drift_scan(
            settings.RDV_KAFKA, tenant=options["tenant"], service=options["service"], window=window,
            bucket_s=settings.RDV_DRIFT_WINDOW_SECONDS, config=DriftSettings.from_django(),
        )
        self.stdout.write(
            f"[drift] scanned {summary.requests} requests into {summary.buckets} buckets "
            f"({summary.refused} refused, {summary.outside} outside the window)"
        )
