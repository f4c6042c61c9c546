"""RDV_VALIDATION_SANDBOX: production refuses ``none`` and has no test hook; a missing bwrap fails validations
with a report (and a start-up warning) instead of running a model unconfined."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core import checks
from django.test import override_settings

from contracts.smoke import SmokeRequest
from controlplane.registry.checks import validation_sandbox_check
from controlplane.registry.confinement import Confinement
from controlplane.registry.sandbox import Limits, failure_explain, sandbox_run

ROOT = Path(__file__).resolve().parents[3]
PRODUCTION_ENV = {
    "DJANGO_SETTINGS_MODULE": "controlplane.settings.production",
    "DJANGO_SECRET_KEY": "x" * 60,
    "DJANGO_ALLOWED_HOSTS": "example.org",
    "DATABASE_URL": "postgres://u:p@127.0.0.1:5432/db",
    "REDIS_URL": "redis://127.0.0.1:6379/0",
    "RDV_PUBLIC_URL": "https://example.org",
    "RDV_RUNNER_SECRET": "a-real-secret-of-some-length-" + "y" * 20,
    # Production also refuses a broker without authentication.
    **{name: value for name, value in os.environ.items() if name.startswith("RDV_KAFKA_")},
}


def _production(**env: str) -> subprocess.CompletedProcess[str]:
    code = ("import django; django.setup(); from django.conf import settings; "
            "print(settings.RDV_VALIDATION_TEST_PROBE_DIR)")
    return subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60,
                          env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), **PRODUCTION_ENV, **env})


def test_production_refuses_to_validate_without_the_sandbox_and_has_no_probe_hook() -> None:
    refused = _production(RDV_VALIDATION_SANDBOX="none")
    started = _production()

    assert refused.returncode != 0
    assert "RDV_VALIDATION_SANDBOX has a development value" in refused.stderr
    assert started.returncode == 0, started.stderr
    assert started.stdout.strip() == "None"


def test_without_bwrap_a_validation_fails_with_a_report_and_start_up_warns(tmp_path: Path, monkeypatch) -> None:  # noqa: ANN001
    monkeypatch.setenv("PATH", str(tmp_path))  # no bwrap on it
    artifact = tmp_path / "model.onnx"
    artifact.write_bytes(b"\x08\x07")
    request = SmokeRequest(artifact=str(artifact), format="onnx", model="m", version=1, sha256="0" * 64,
                           features=["a"], example={"a": 1.0}, memory_mb=256, cpu_s=5)
    limits = Limits(timeout_s=30, memory_mb=256, cpu_s=5)

    result = sandbox_run(request=request, limits=limits, confined=Confinement(mode="bwrap"))
    with override_settings(RDV_VALIDATION_SANDBOX="bwrap"):
        warnings = validation_sandbox_check()

    assert not result.ok
    assert failure_explain(result, limits).startswith(
        "error while starting the validator: the validation sandbox is not available: bwrap (Debian package "
        "bubblewrap) is not installed"
    )
    assert [w.id for w in warnings] == ["registry.W001"] and warnings[0].level == checks.WARNING
    assert "every validation will fail" in warnings[0].msg


@pytest.mark.parametrize(("mode", "warned"), [("bwrap", False), ("none", True)])
def test_start_up_says_when_validations_run_unconfined(mode: str, warned: bool) -> None:
    with override_settings(RDV_VALIDATION_SANDBOX=mode):
        assert bool(validation_sandbox_check()) is warned
