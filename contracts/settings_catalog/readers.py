"""Typed readers of declared variables: one parse per kind, one error that names the variable. Django-free.

Every process reads its environment through these, so a variable means the same thing wherever it is
read: surrounding blanks are dropped, a blank value is an unset one (the default applies; for a flag it
is off), numbers are checked
against the declared minimum, and a value that does not parse stops the process with
``SettingError("RDV_MAX_BATCH must be a whole number, not 'lots'")``. Each process wraps that error in
its own (``ImproperlyConfigured``, the runner's ``SettingsError``, ``SystemExit``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, Final

from contracts.settings_catalog.catalog import SETTINGS
from contracts.settings_catalog.spec import Default, Kind, Setting

TRUE: Final = frozenset({"1", "true", "yes", "on"})
FALSE: Final = frozenset({"0", "false", "no", "off"})


class SettingError(ValueError):
    """A variable's value is missing or unusable; the message names the variable."""


class UndeclaredSetting(KeyError):
    """Code asked for a variable the catalogue does not declare: declare it in catalog.py first."""


class Declared:
    """The type of ``DECLARED``: a reader's ``default`` that means "the catalogue's default"."""

    def __repr__(self) -> str:
        return "DECLARED"


DECLARED: Final = Declared()
_BY_NAME: Final[dict[str, Setting]] = {setting.name: setting for setting in SETTINGS}


def setting(name: str) -> Setting:
    try:
        return _BY_NAME[name]
    except KeyError:
        raise UndeclaredSetting(f"{name} is not declared in contracts/settings_catalog/catalog.py") from None


def is_declared(name: str) -> bool:
    return name in _BY_NAME


def raw(env: Mapping[str, str], name: str) -> str | None:
    """The text as given (``None`` when unset), for the rare reader that tells unset from blank."""
    setting(name)
    return env.get(name)


def parse(declared: Setting, text: str) -> Any:
    """The typed value of ``text`` (already known not to be blank) for ``declared``."""
    name, kind = declared.name, declared.kind
    if kind == "str":
        return text
    if kind == "choice":
        if text not in declared.choices:
            raise SettingError(f"{name} must be one of {', '.join(declared.choices)}, not {text!r}")
        return text
    if kind == "list":
        return tuple(item.strip() for item in text.split(",") if item.strip())
    if kind == "bool":
        lowered = text.lower()
        if lowered in TRUE:
            return True
        if lowered in FALSE:
            return False
        raise SettingError(f"{name} must be a boolean (1/0, true/false, yes/no, on/off), not {text!r}")
    if kind == "int":
        try:
            number: float = int(text)
        except ValueError:
            raise SettingError(f"{name} must be a whole number, not {text!r}") from None
    else:
        try:
            number = float(text)
        except ValueError:
            raise SettingError(f"{name} must be a number, not {text!r}") from None
        if not math.isfinite(number):
            raise SettingError(f"{name} must be a finite number, not {text!r}")
    _check_minimum(declared, number)
    return number


def _check_minimum(declared: Setting, number: float) -> None:
    low = declared.minimum
    if low is None:
        return
    shown = int(low) if float(low).is_integer() else low
    if declared.above and not number > low:
        raise SettingError(f"{declared.name} must be more than {shown}, not {number:g}")
    if not declared.above and number < low:
        raise SettingError(f"{declared.name} must be at least {shown}, not {number:g}")


def read_declared(
    env: Mapping[str, str],
    declared: Setting,
    *,
    default: Default | Declared = DECLARED,
    required: bool = False,
    hint: str = "",
) -> Any:
    """The value of ``declared`` in ``env``: parsed, else ``default`` (the declared one unless given).

    With ``required`` an unset variable is an error; otherwise it may be ``None`` (no default).
    """
    text = env.get(declared.name)
    if text is not None:
        text = text.strip()
    if text:
        return parse(declared, text)
    if declared.kind == "bool" and text is not None:
        return False  # a blank flag is off, whatever the default
    fallback = declared.default if isinstance(default, Declared) else default
    if required:
        raise _required(declared.name, hint)
    return fallback


def _required(name: str, hint: str = "") -> SettingError:
    suffix = f" ({hint})" if hint else ""
    return SettingError(f"{name} is required{suffix}")


def read(env: Mapping[str, str], name: str, **options: Any) -> Any:
    """Untyped read of a declared variable (prefer the typed readers below)."""
    return read_declared(env, setting(name), **options)


def _typed(name: str, kinds: tuple[Kind, ...]) -> Setting:
    declared = setting(name)
    if declared.kind not in kinds:
        raise TypeError(f"{name} is declared as {declared.kind}, not {'/'.join(kinds)}")
    return declared


def read_str(
    env: Mapping[str, str],
    name: str,
    *,
    default: str | None | Declared = DECLARED,
    required: bool = False,
    hint: str = "",
) -> str:
    """A text (or choice) variable that always has a value: unset without a default is an error."""
    declared = _typed(name, ("str", "choice"))
    value = read_declared(env, declared, default=default, required=required, hint=hint)
    if value is None:
        raise _required(name, hint)
    return str(value)


def read_optional_str(env: Mapping[str, str], name: str, *, default: str | None | Declared = DECLARED) -> str | None:
    """A text variable that may be absent (``None``)."""
    value = read_declared(env, _typed(name, ("str", "choice")), default=default)
    return None if value is None else str(value)


def read_int(
    env: Mapping[str, str], name: str, *, default: int | Declared = DECLARED, required: bool = False
) -> int:
    value = read_declared(env, _typed(name, ("int",)), default=default, required=required)
    if value is None:
        raise _required(name, "a whole number")
    return int(value)


def read_optional_int(env: Mapping[str, str], name: str) -> int | None:
    value = read_declared(env, _typed(name, ("int",)), default=None)
    return None if value is None else int(value)


def read_float(
    env: Mapping[str, str], name: str, *, default: float | Declared = DECLARED, required: bool = False
) -> float:
    value = read_declared(env, _typed(name, ("float",)), default=default, required=required)
    if value is None:
        raise _required(name, "a number")
    return float(value)


def read_bool(env: Mapping[str, str], name: str, *, default: bool | Declared = DECLARED) -> bool:
    return bool(read_declared(env, _typed(name, ("bool",)), default=default))  # a flag without a default is off


def read_list(
    env: Mapping[str, str], name: str, *, default: tuple[str, ...] | Declared = DECLARED, required: bool = False
) -> tuple[str, ...]:
    value = read_declared(env, _typed(name, ("list",)), default=default, required=required)
    if value is None:
        raise _required(name, "a comma-separated list")
    return tuple(value)
