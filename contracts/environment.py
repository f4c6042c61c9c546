"""Which environment a process runs in, and the development defaults production refuses to start with.

``RDV_ENV`` is ``development`` (the default) or ``production``. When it is unset, a process whose
``DJANGO_SETTINGS_MODULE`` is ``controlplane.settings.production`` is in production too, so every
process of a deployment that shares one environment block (docker-compose.yml) agrees without a
second switch. The control plane's production settings always check; the model runner and the
rendezvous worker check when they are in production.

``DEV_DEFAULTS`` is the one list of values that only make sense on a developer's machine. To refuse
another one, add a ``DevDefault`` here: every process that checks picks it up. Django-free.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from contracts.pool_tokens import DEV_RUNNER_SECRET, LEGACY_DEV_RUNNER_TOKEN, pool_token_verify
from contracts.settings_catalog import raw

DEVELOPMENT = "development"
PRODUCTION = "production"
ENVIRONMENTS = (DEVELOPMENT, PRODUCTION)
PRODUCTION_SETTINGS_MODULE = "controlplane.settings.production"

# The Django secret keys the repository ships (controlplane/settings/local.py and test.py).
DEV_SECRET_KEY = "dev-insecure-secret-key-do-not-use-in-production"
TEST_SECRET_KEY = "test-secret-key"

_TRUE = {"1", "true", "yes", "on"}


class DevDefaultError(RuntimeError):
    """A production process was configured with a development default; raised before it serves anything."""


@dataclass(frozen=True, slots=True)
class DevDefault:
    """One setting (by its environment variable) and the values of it that only development may use."""

    setting: str
    is_dev: Callable[[str], bool]
    fix: str


def _is_dev_runner_token(value: str) -> bool:
    return value == LEGACY_DEV_RUNNER_TOKEN or pool_token_verify(secret=DEV_RUNNER_SECRET, token=value) is not None


DEV_DEFAULTS: tuple[DevDefault, ...] = (
    DevDefault(
        "DJANGO_SECRET_KEY",
        lambda v: v in (DEV_SECRET_KEY, TEST_SECRET_KEY) or v.startswith("django-insecure-"),
        "set a long random value (50+ characters), e.g. `python -c 'import secrets; print(secrets.token_urlsafe(50))'`",
    ),
    DevDefault("DJANGO_DEBUG", lambda v: v.strip().lower() in _TRUE, "unset it (production never runs with DEBUG)"),
    DevDefault(
        "DJANGO_ALLOWED_HOSTS",
        lambda v: "*" in (host.strip() for host in v.split(",")),
        "list the host names the control plane is reached at",
    ),
    DevDefault("RDV_RUNNER_SECRET", lambda v: v == DEV_RUNNER_SECRET, "set a long random value"),
    DevDefault(
        "RDV_RUNNER_TOKEN",
        _is_dev_runner_token,
        "set the pool token printed by `manage.py rdv_runner_token --pool <pool>` with the production secret",
    ),
    # The validation sandbox switched off (the setting arrives with the sandbox work of issue 14).
    DevDefault("RDV_VALIDATION_SANDBOX", lambda v: v.strip().lower() == "none", "use the sandbox in production"),
)


def environment_of(environ: Mapping[str, str]) -> str:
    """``development`` or ``production`` (see the module docstring); an unknown RDV_ENV is an error."""
    chosen = (raw(environ, "RDV_ENV") or "").strip().lower()
    if not chosen:
        settings_module = (raw(environ, "DJANGO_SETTINGS_MODULE") or "").strip()
        return PRODUCTION if settings_module == PRODUCTION_SETTINGS_MODULE else DEVELOPMENT
    if chosen not in ENVIRONMENTS:
        raise ValueError(f"RDV_ENV must be one of {', '.join(ENVIRONMENTS)}, not {chosen!r}")
    return chosen


def dev_defaults_found(values: Mapping[str, str]) -> list[str]:
    """One line per development default among ``values`` (environment variable → value); absent names pass."""
    return [
        f"{rule.setting} has a development value: {rule.fix}"
        for rule in DEV_DEFAULTS
        if rule.setting in values and rule.is_dev(str(values[rule.setting]))
    ]


def refuse_dev_defaults(values: Mapping[str, str], *, process: str) -> None:
    """Raise ``DevDefaultError`` naming every development default, so one restart fixes them all."""
    problems = dev_defaults_found(values)
    if problems:
        lines = "\n".join(f"  - {problem}" for problem in problems)
        raise DevDefaultError(f"{process} refuses to start in production with development defaults:\n{lines}")
