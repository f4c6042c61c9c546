"""The one place settings read the environment, through the project's settings catalogue.

Each variable is declared once in ``contracts/settings_catalog/catalog.py`` (type, default, meaning);
these getters read it with the catalogue's parsing and its default unless one is passed (a settings
module whose default differs, such as ``local``'s ``DJANGO_DEBUG``). They fail fast: a required
variable that is missing, or a value that does not parse, raises ``ImproperlyConfigured`` at import
time with the variable's name, instead of surfacing later as a confusing error deep inside a request.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from django.core.exceptions import ImproperlyConfigured

from contracts.settings_catalog import (
    DECLARED,
    Declared,
    Setting,
    SettingError,
    is_declared,
    read_declared,
    setting,
)
from contracts.settings_catalog.spec import Kind


def _setting(name: str, kind: Kind, default: Any) -> Setting:
    """The declaration of ``name``; a name the catalogue does not know (a test's ``X``) is read as ``kind``."""
    if is_declared(name):
        declared = setting(name)
        if declared.kind != kind and not (kind == "str" and declared.kind == "choice"):
            raise ImproperlyConfigured(f"{name} is declared as {declared.kind}, not read as {kind}")
        return declared
    fallback = None if isinstance(default, Declared) else default
    return Setting(name, kind, fallback, "undeclared", ("controlplane",), "Control plane")


def _read(
    name: str, kind: Kind, default: Any, *, required: bool, hint: str, environ: Mapping[str, str] | None
) -> Any:
    env = os.environ if environ is None else environ
    declared = _setting(name, kind, default)
    try:
        value = read_declared(env, declared, default=default, required=required, hint=hint)
    except SettingError as exc:
        raise ImproperlyConfigured(f"environment variable {exc}") from None
    if value is None:
        suffix = f" ({hint})" if hint else ""
        raise ImproperlyConfigured(f"environment variable {name} is required{suffix}")
    return value


def env_str(
    name: str,
    default: str | None | Declared = DECLARED,
    *,
    required: bool = False,
    hint: str = "",
    environ: Mapping[str, str] | None = None,
) -> str:
    return str(_read(name, "str", default, required=required, hint=hint, environ=environ))


def env_int(
    name: str,
    default: int | None | Declared = DECLARED,
    *,
    required: bool = False,
    environ: Mapping[str, str] | None = None,
) -> int:
    return int(_read(name, "int", default, required=required, hint="a whole number", environ=environ))


def env_float(
    name: str,
    default: float | None | Declared = DECLARED,
    *,
    required: bool = False,
    environ: Mapping[str, str] | None = None,
) -> float:
    return float(_read(name, "float", default, required=required, hint="a number", environ=environ))


def env_bool(name: str, default: bool | Declared = DECLARED, *, environ: Mapping[str, str] | None = None) -> bool:
    """A flag: 1/true/yes/on or 0/false/no/off; blank is off."""
    return bool(_read(name, "bool", default, required=False, hint="", environ=environ))


def env_list(
    name: str,
    default: list[str] | tuple[str, ...] | None | Declared = DECLARED,
    *,
    required: bool = False,
    environ: Mapping[str, str] | None = None,
) -> list[str]:
    """A comma-separated list; blanks are dropped so ``"a, b,"`` is ``["a", "b"]``."""
    if isinstance(default, list):
        default = tuple(default)
    value = _read(name, "list", default, required=required, hint="a comma-separated list", environ=environ)
    return list(value)
