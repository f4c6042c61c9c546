"""The settings helper fails fast, naming the variable, instead of starting half-configured."""

from __future__ import annotations

import pytest
from django.core.exceptions import ImproperlyConfigured

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
