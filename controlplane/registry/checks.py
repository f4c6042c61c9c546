"""Start-up warnings about the validation sandbox: said once when a process starts, not first in a report."""

from __future__ import annotations

import logging
from typing import Any

from django.conf import settings
from django.core import checks

from controlplane.registry.confinement import NONE, sandbox_problem

log = logging.getLogger(__name__)


def sandbox_warning() -> str | None:
    """What an operator must hear about ``RDV_VALIDATION_SANDBOX`` on this host, or None."""
    mode = settings.RDV_VALIDATION_SANDBOX
    if mode == NONE:
        return ("RDV_VALIDATION_SANDBOX=none: uploaded models are validated without the sandbox "
                "(development only; production settings refuse it)")
    problem = sandbox_problem(mode)
    return f"every validation will fail: {problem}" if problem else None


@checks.register()
def validation_sandbox_check(app_configs: Any = None, **_kwargs: Any) -> list[checks.CheckMessage]:
    warning = sandbox_warning()
    return [checks.Warning(warning, id="registry.W001")] if warning else []


def log_sandbox_warning(**_kwargs: Any) -> None:
    """Connected to Celery's ``worker_init``: a validation worker says it at start-up."""
    warning = sandbox_warning()
    if warning:
        log.warning("%s", warning)
