"""``manage.py rdv_demo``: seed the iris demo (idempotent) and print a JSON summary on the last line."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from controlplane.errors import DomainError
from controlplane.ops.demo import demo_seed


class Command(BaseCommand):
    help = "Create the demo tenant, iris models v1/v2, the iris service and a token (idempotent)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--token-file",
            type=Path,
            default=settings.RUN_DIR / "demo-token",
            help="where the demo token's secret is kept (reused while it still authenticates)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            summary = demo_seed(token_path=options["token_file"], say=self.stdout.write)
        except DomainError as exc:
            raise CommandError(f"{exc.code}: {exc.detail}") from exc
        self.stdout.write(json.dumps(summary))
