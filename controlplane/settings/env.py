"""The one place settings read the environment.

Getters are typed and fail fast: a required variable that is missing, or a value that does not
parse, raises ``ImproperlyConfigured`` at import time with the variable's name, instead of
surfacing later as a confusing error deep inside a request.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from django.core.exceptions import ImproperlyConfigured

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def _raw(name: str, environ: Mapping[str, str] | None) -> str | None:
    value = (os.environ if environ is None else environ).get(name)
    return None if value is None else value.strip()


def _missing(name: str, hint: str) -> ImproperlyConfigured:
    suffix = f" ({hint})" if hint else ""
    return ImproperlyConfigured(f"environment variable {name} is required{suffix}")


def env_str(
    name: str,
    default: str | None = None,
    *,
    required: bool = False,
    hint: str = "",
    environ: Mapping[str, str] | None = None,
) -> str:
    value = _raw(name, environ)
    if value:
        return value
    if required or default is None:
        raise _missing(name, hint)
    return default


def env_int(
    name: str,
    default: int | None = None,
    *,
    required: bool = False,
    environ: Mapping[str, str] | None = None,
) -> int:
    value = _raw(name, environ)
    if not value:
        if required or default is None:
            raise _missing(name, "an integer")
        return default
    try:
        return int(value)
    except ValueError:
        raise ImproperlyConfigured(f"environment variable {name} must be an integer, not {value!r}") from None


def env_bool(name: str, default: bool, *, environ: Mapping[str, str] | None = None) -> bool:
    value = _raw(name, environ)
    if value is None:
        return default
    if value.lower() in _TRUE:
        return True
    if value.lower() in _FALSE:
        return False
    raise ImproperlyConfigured(
        f"environment variable {name} must be a boolean (1/0, true/false), not {value!r}"
    )


def env_list(
    name: str,
    default: list[str] | None = None,
    *,
    required: bool = False,
    environ: Mapping[str, str] | None = None,
) -> list[str]:
    """A comma-separated list; blanks are dropped so ``"a, b,"`` is ``["a", "b"]``."""
    value = _raw(name, environ)
    if not value:
        if required or default is None:
            raise _missing(name, "a comma-separated list")
        return list(default)
    return [item.strip() for item in value.split(",") if item.strip()]
