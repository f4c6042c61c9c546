"""Production settings: `check --deploy` is clean with a realistic environment, and dev defaults are refused."""

from __future__ import annotations

import importlib
import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from contracts.environment import DEV_DEFAULTS, DEV_SECRET_KEY
from contracts.pool_tokens import DEV_RUNNER_SECRET, LEGACY_DEV_RUNNER_TOKEN

ROOT = Path(__file__).resolve().parents[3]


def _production_env() -> dict[str, str]:
    """What an operator sets: random secrets, real host names, the test run's PostgreSQL and Redis."""
    env = {name: value for name, value in os.environ.items() if name not in {rule.setting for rule in DEV_DEFAULTS}}
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "controlplane.settings.production",
            "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
            "DJANGO_ALLOWED_HOSTS": "rendezvous.example.com,controlplane",
            "DATABASE_URL": os.environ["DATABASE_URL"],
            "REDIS_URL": os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"),
            "RDV_PUBLIC_URL": "http://controlplane:8000",
            "RDV_RUNNER_SECRET": secrets.token_urlsafe(32),
        }
    )
    return env


def test_check_deploy_is_clean_with_production_settings() -> None:
    done = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT, env=_production_env(), capture_output=True, text=True, timeout=120,
    )

    assert done.returncode == 0, done.stdout + done.stderr
    assert "System check identified no issues" in done.stdout, done.stdout + done.stderr


def _import_production(monkeypatch: pytest.MonkeyPatch, **overrides: str) -> object:
    for name, value in {**_production_env(), **overrides}.items():
        monkeypatch.setenv(name, value)
    # base too: it reads settings such as RDV_VALIDATION_SANDBOX that production then checks.
    for module in ("controlplane.settings.production", "controlplane.settings.base"):
        monkeypatch.delitem(sys.modules, module, raising=False)
    try:
        return importlib.import_module("controlplane.settings.production")
    finally:
        sys.modules.pop("controlplane.settings.production", None)


def test_production_settings_load_with_a_realistic_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    production = _import_production(monkeypatch)

    assert production.SECURE_SSL_REDIRECT and production.SECURE_HSTS_SECONDS == 31_536_000
    assert production.SESSION_COOKIE_SECURE and production.CSRF_COOKIE_SECURE
    assert production.SECURE_PROXY_SSL_HEADER == ("HTTP_X_FORWARDED_PROTO", "https")


def test_without_a_trusted_proxy_the_forwarded_header_is_ignored(monkeypatch: pytest.MonkeyPatch) -> None:
    production = _import_production(monkeypatch, DJANGO_TRUST_X_FORWARDED_PROTO="0")

    assert getattr(production, "SECURE_PROXY_SSL_HEADER", None) is None, "no header is trusted"


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("DJANGO_SECRET_KEY", DEV_SECRET_KEY),
        ("DJANGO_SECRET_KEY", "django-insecure-" + "x" * 50),
        ("DJANGO_DEBUG", "1"),
        ("DJANGO_ALLOWED_HOSTS", "*"),
        ("RDV_RUNNER_SECRET", DEV_RUNNER_SECRET),
        ("RDV_RUNNER_TOKEN", LEGACY_DEV_RUNNER_TOKEN),
        ("RDV_VALIDATION_SANDBOX", "none"),
    ],
)
def test_production_refuses_each_development_default(monkeypatch: pytest.MonkeyPatch, name: str, value: str) -> None:
    with pytest.raises(ImproperlyConfigured) as caught:
        _import_production(monkeypatch, **{name: value})

    message = str(caught.value)
    assert message.startswith("the control plane (controlplane.settings.production) refuses to start in production")
    assert f"{name} has a development value" in message


def test_every_development_default_is_named_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ImproperlyConfigured) as caught:
        _import_production(monkeypatch, DJANGO_SECRET_KEY=DEV_SECRET_KEY, RDV_RUNNER_SECRET=DEV_RUNNER_SECRET)

    assert "DJANGO_SECRET_KEY has" in str(caught.value) and "RDV_RUNNER_SECRET has" in str(caught.value)


def test_production_needs_the_runner_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("RDV_RUNNER_SECRET", raising=False)
    with pytest.raises(ImproperlyConfigured, match="RDV_RUNNER_SECRET is required"):
        _import_production(monkeypatch, RDV_RUNNER_SECRET="")
