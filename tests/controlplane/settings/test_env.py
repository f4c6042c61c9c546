"""The settings helper fails fast, naming the variable, instead of starting half-configured."""

from __future__ import annotations

import pytest
from django.core.exceptions import ImproperlyConfigured

from contracts.settings_catalog import SETTINGS
from controlplane.settings.env import env_bool, env_int, env_list, env_str


def test_required_value_missing_names_the_variable() -> None:
    with pytest.raises(ImproperlyConfigured, match="RDV_RUNNER_TOKEN is required"):
        env_str("RDV_RUNNER_TOKEN", "dev", required=True, environ={})


def test_defaults_apply_only_when_not_required() -> None:
    assert env_str("X", "fallback", environ={}) == "fallback"
    assert env_str("X", "fallback", environ={"X": " set "}) == "set"
    assert env_int("N", 4, environ={}) == 4
    assert env_bool("B", False, environ={"B": "yes"}) is True
    assert env_list("L", [], environ={"L": "a, b,"}) == ["a", "b"]


@pytest.mark.parametrize(
    ("getter", "value"),
    [(lambda e: env_int("N", 1, environ=e), "four"), (lambda e: env_bool("N", True, environ=e), "maybe")],
)
def test_malformed_values_are_rejected(getter, value: str) -> None:  # noqa: ANN001
    with pytest.raises(ImproperlyConfigured, match="N must be"):
        getter({"N": value})


def test_production_settings_refuse_to_start_without_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib
    import sys

    for name in ("DJANGO_SECRET_KEY", "RDV_RUNNER_SECRET", "DATABASE_URL", "REDIS_URL"):
        monkeypatch.delenv(name, raising=False)
    sys.modules.pop("controlplane.settings.production", None)
    with pytest.raises(ImproperlyConfigured, match="DJANGO_SECRET_KEY is required"):
        importlib.import_module("controlplane.settings.production")


def test_production_settings_refuse_a_kafka_without_authentication(monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib
    import sys

    secrets = {
        "DJANGO_SECRET_KEY": "k" * 50,
        "DJANGO_ALLOWED_HOSTS": "example.org",
        "RDV_RUNNER_SECRET": "r" * 40,
        "DATABASE_URL": "postgres://u:p@h:5432/n",
        "REDIS_URL": "redis://h:6379/0",
        "RDV_PUBLIC_URL": "https://example.org",
    }
    for name, value in secrets.items():
        monkeypatch.setenv(name, value)
    for name in ("RDV_KAFKA_SECURITY_PROTOCOL", "RDV_KAFKA_USERNAME", "RDV_KAFKA_PASSWORD"):
        monkeypatch.delenv(name, raising=False)
    for module in ("controlplane.settings.production", "controlplane.settings.base"):
        monkeypatch.delitem(sys.modules, module, raising=False)
    with pytest.raises(ImproperlyConfigured, match="RDV_KAFKA_SECURITY_PROTOCOL must be SASL"):
        importlib.import_module("controlplane.settings.production")


def test_declared_variables_take_the_catalogues_default_and_rules() -> None:
    assert env_int("RDV_QUOTA_MODELS", environ={}) == 100
    assert env_list("RDV_TRUSTED_POOLS", environ={}) == []
    assert env_bool("DJANGO_SECURE_COOKIES", environ={}) is True
    with pytest.raises(ImproperlyConfigured, match="RDV_VALIDATION_SANDBOX must be one of bwrap, none, not 'docker'"):
        env_str("RDV_VALIDATION_SANDBOX", environ={"RDV_VALIDATION_SANDBOX": "docker"})
    with pytest.raises(ImproperlyConfigured, match="RDV_ARTIFACT_URL_TTL_S must be at least 1, not 0"):
        env_int("RDV_ARTIFACT_URL_TTL_S", environ={"RDV_ARTIFACT_URL_TTL_S": "0"})


_PRODUCTION_ENV = {
    "DJANGO_SECRET_KEY": "k" * 50,
    "DJANGO_ALLOWED_HOSTS": "example.org",
    "RDV_RUNNER_SECRET": "r" * 40,
    "DATABASE_URL": "postgres://u:p@h:5432/n",
    "REDIS_URL": "redis://h:6379/0",
    "RDV_PUBLIC_URL": "https://example.org",
    "RDV_KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
    "RDV_KAFKA_USERNAME": "rdv-controlplane",
    "RDV_KAFKA_PASSWORD": "p" * 20,
}


@pytest.mark.parametrize(
    "name",
    sorted(s.name for s in SETTINGS if s.required_in_production and "controlplane" in s.read_by),
)
def test_production_requires_what_the_catalogue_documents(monkeypatch: pytest.MonkeyPatch, name: str) -> None:
    import importlib
    import sys

    for variable, value in _PRODUCTION_ENV.items():
        monkeypatch.setenv(variable, value)
    monkeypatch.delenv(name)
    for module in ("controlplane.settings.production", "controlplane.settings.base"):
        monkeypatch.delitem(sys.modules, module, raising=False)
    with pytest.raises(ImproperlyConfigured, match=f"{name} is required"):
        importlib.import_module("controlplane.settings.production")
