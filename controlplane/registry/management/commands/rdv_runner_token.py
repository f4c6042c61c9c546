"""``manage.py rdv_runner_token --pool P``: the token the model runners of pool P are started with.

    RDV_RUNNER_POOL=gpu RDV_RUNNER_TOKEN=$(python manage.py rdv_runner_token --pool gpu) python -m model_runner

The token is derived from RDV_RUNNER_SECRET (contracts.pool_tokens), so nothing is stored: run this on
any control-plane host. Rotating the secret changes every pool's token.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from contracts.pool_tokens import pool_token


class Command(BaseCommand):
    help = "Print the artifact-access token of one runner pool (RDV_RUNNER_TOKEN of its runners)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--pool", required=True, help="the pool's slug, as in RDV_RUNNER_POOL")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            token = pool_token(secret=settings.RDV_RUNNER_SECRET, pool=options["pool"])
        except ValueError as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(token)
