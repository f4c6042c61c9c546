"""Acceptance (issue 14, point 2): code run inside a validation cannot open a socket, read another artifact or
the control plane's files, read the parent's environment, or leave a process behind.

The code is the sandbox probe (``sandbox_probe/rdv_sandbox_probe.py``), run through the test-only hook of
controlplane.settings.test: a trusted tenant's ``python`` artifact naming it is validated like any model, by
``version_validate`` — what the Celery task calls. Under ``RDV_VALIDATION_SANDBOX=none`` this test fails.
"""

from __future__ import annotations

import json
import os
import random
import signal
import time
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from django.conf import settings
from django.core.files.base import ContentFile
from django.test import override_settings

from controlplane.registry.models import ModelVersion
from controlplane.registry.sandbox import Limits
from controlplane.registry.services import version_create
from controlplane.registry.validation import version_validate
from tests.controlplane.conftest import IRIS_METADATA
from tests.factories import ModelFactory, TenantFactory

pytestmark = pytest.mark.django_db
FORKS = 40


def _daemons(marker: str) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if (entry / "cmdline").read_bytes() == f"sleep\0{marker}\0".encode():
                found.append(int(entry.name))
        except OSError:
            continue
    return found


def _probe_artifact(attempts: dict) -> ContentFile:
    return ContentFile(f"# {json.dumps(attempts)}\nrdv_sandbox_probe:probe\n".encode(), name="probe.py")


@override_settings(RDV_VALIDATION_MAX_PROCESSES=FORKS // 2)
def test_code_in_a_validation_reaches_nothing_outside_its_sandbox(iris_skops_path: Path) -> None:
    model = ModelFactory(tenant=TenantFactory(trusted_code=True))
    stored = ContentFile(iris_skops_path.read_bytes(), name="m.skops")
    other = version_create(model=ModelFactory(), artifact_file=stored, format="skops", metadata=IRIS_METADATA)
    database = settings.DATABASES["default"]
    kafka_host, kafka_port = settings.RDV_KAFKA.bootstrap_servers.split(",")[0].rsplit(":", 1)
    redis_url = urlsplit(settings.CELERY_BROKER_URL)
    marker = f"3{random.randint(10**8, 10**9 - 1)}"
    attempts = {
        "tcp": {"kafka": [kafka_host, int(kafka_port)], "postgres": [database["HOST"], int(database["PORT"])],
                "redis": [redis_url.hostname, redis_url.port]},
        "files": {
            "other-artifact": other.artifact.path,
            "artifact-store": str(settings.MEDIA_ROOT),
            "control-plane-code": str(settings.BASE_DIR / "manage.py"),
            "settings": str(settings.BASE_DIR / "controlplane" / "settings" / "production.py"),
        },
        "env": ["DATABASE_URL", "DJANGO_SECRET_KEY", "RDV_RUNNER_TOKEN", "REDIS_URL"],
        "parent_pid": os.getpid(),
        "forks": FORKS,
        "daemon_marker": marker,
    }
    assert os.environ.get("DATABASE_URL"), "the test runs with DATABASE_URL in the parent's environment"
    probed = version_create(model=model, artifact_file=_probe_artifact(attempts), format="python",
                            metadata=IRIS_METADATA)

    try:
        version = version_validate(version_id=probed.pk)
        time.sleep(1)  # the kernel tears the sandbox's PID namespace down once its first process has exited
        left = _daemons(marker)
    finally:
        for pid in _daemons(marker):
            os.kill(pid, signal.SIGKILL)

    assert version is not None and version.status == ModelVersion.Status.READY, version and version.report
    assert "sandbox probe" in version.report
    outlived = f"process(es) forked in the validation outlived it: {left}" if left else ""
    assert '"escaped": []' in version.report and not outlived, f"{version.report} {outlived}"
    for attempt in ("tcp:kafka", "tcp:postgres", "tcp:redis", "read:other-artifact", "read:artifact-store",
                    "read:control-plane-code", "read:settings", "env:own", "env:parent", "fork:many"):
        assert attempt in version.report, (attempt, version.report)


def test_nothing_forked_in_a_validation_outlives_its_timeout() -> None:
    """The probe starts a daemon in a session of its own, then hangs until the parent kills it at the timeout."""
    model = ModelFactory(tenant=TenantFactory(trusted_code=True))
    marker = f"3{random.randint(10**8, 10**9 - 1)}"
    probed = version_create(model=model, artifact_file=_probe_artifact({"daemon_marker": marker, "hang_s": 120}),
                            format="python", metadata=IRIS_METADATA)

    try:
        version = version_validate(version_id=probed.pk, limits=Limits(timeout_s=6, memory_mb=512, cpu_s=60))
        time.sleep(1)
        left = _daemons(marker)
    finally:
        for pid in _daemons(marker):
            os.kill(pid, signal.SIGKILL)

    assert version is not None and version.status == ModelVersion.Status.FAILED
    assert version.report.startswith("timeout: validation did not finish within 6 s"), version.report
    assert left == [], "a process forked in the validation outlived the kill at its timeout"
