"""``manage.py rdv_bench_seed``: seed tenant ``bench`` (idempotent); a JSON summary on the last line."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from controlplane.errors import DomainError
from controlplane.ops.bench_seed import bench_seed


class Command(BaseCommand):
    help = "Create tenant bench with services three (3 models/request) and late (champion never scores)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--token-file",
            type=Path,
            default=settings.RUN_DIR / "bench-token",
            help="where the bench token's secret is kept (reused while it still authenticates)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            summary = bench_seed(token_path=options["token_file"], say=self.stdout.write)
        except DomainError as exc:
            raise CommandError(f"{exc.code}: {exc.detail}") from exc
        self.stdout.write(json.dumps(summary))
