"""One settings layer: every variable the code names is declared once, read one way, and documented in the README."""

from __future__ import annotations

import ast
import re
from dataclasses import fields
from pathlib import Path

import pytest

from contracts.environment import DEV_DEFAULTS
from contracts.kafka import KafkaSettings
from contracts.kafka.acls import PLATFORM_ROLES
from contracts.kafka.base import CLIENTS, SASL_MECHANISMS, SECURITY_PROTOCOLS
from contracts.settings_catalog import (
    SETTINGS,
    Setting,
    SettingError,
    UndeclaredSetting,
    read_bool,
    read_float,
    read_int,
    read_list,
    read_optional_int,
    read_optional_str,
    read_str,
    setting,
)
from contracts.settings_catalog.catalog import PLATFORM_ROLE_NAMES
from contracts.settings_catalog.markdown import BEGIN, README, readme_with_table

ROOT = Path(__file__).resolve().parents[2]
# Where the project's processes and tools live (tests/ sets variables, it does not read them).
SOURCE_ROOTS = (
    "contracts", "streaming", "model_runner", "rendezvous_worker", "controlplane", "rdvctl", "scripts", "bench"
)
VARIABLE = re.compile(r"\b(?:(?:RDV|DJANGO)_[A-Z0-9_]*[A-Z0-9]|REDIS_URL|DATABASE_URL)\b")
# Names that look like variables but are Django settings only, never read from the environment.
NOT_VARIABLES = {"RDV_VALIDATION_TEST_PROBE_DIR": "a test hook set by controlplane.settings.test"}
# Files still allowed to read a declared variable with os.environ.get/[...] instead of the catalogue's readers.
DIRECT_READERS = {
    "controlplane/gateway/replies.py": "RDV_REPLIES_PARTITION; the replies reader is being rewritten (issue 15)",
    "rdvctl/cli.py": "the CI client installs without the repository's other packages (httpx only)",
    "bench/redos.py": "a benchmark's command-line default",
    "bench/runner_capacity.py": "a benchmark's command-line default",
    "bench/state_injection.py": "a benchmark's command-line default",
}


def _sources() -> list[Path]:
    return sorted(
        path
        for root in SOURCE_ROOTS
        for path in (ROOT / root).rglob("*.py")
        if "migrations" not in path.parts
    )


def undeclared_names(source: str) -> set[str]:
    """The variable-like names in ``source``'s string literals (f-string parts included) nobody declared."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            found.update(VARIABLE.findall(node.value))
    return {name for name in found if name not in NOT_VARIABLES and not _declared(name)}


def direct_reads(source: str) -> set[str]:
    """Declared variables ``source`` reads by hand: ``x.get("RDV_…")``, ``os.getenv("RDV_…")``, ``x["RDV_…"]``."""

    def variable(node: ast.AST) -> str | None:
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and VARIABLE.fullmatch(node.value):
            return node.value
        return None

    reads: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        name = None
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.args:
            if node.func.attr in ("get", "getenv", "pop"):
                name = variable(node.args[0])
        elif isinstance(node, ast.Subscript) and isinstance(node.ctx, ast.Load):
            name = variable(node.slice)
        if name:
            reads.add(name)
    return reads


def _declared(name: str) -> bool:
    try:
        setting(name)
    except UndeclaredSetting:
        return False
    return True


def test_every_variable_named_in_the_source_is_declared() -> None:
    undeclared = {
        f"{path.relative_to(ROOT)}: {', '.join(sorted(names))}"
        for path in _sources()
        if (names := undeclared_names(path.read_text()))
    }
    assert not undeclared, f"declare these in contracts/settings_catalog/catalog.py: {sorted(undeclared)}"


def test_the_source_scan_finds_an_undeclared_read() -> None:
    source = (
        'import os\nA = os.environ.get("RDV_NOT_DECLARED")\nB = f"RDV_KAFKA_{role}_PASSWORD"\nC = "RDV_MAX_BATCH"\n'
    )
    assert undeclared_names(source) == {"RDV_NOT_DECLARED"}
    assert direct_reads(source) == {"RDV_NOT_DECLARED"}


def test_processes_read_variables_through_the_catalogue() -> None:
    by_hand = {
        f"{relative}: {', '.join(sorted(names))}"
        for path in _sources()
        if (relative := str(path.relative_to(ROOT))) not in DIRECT_READERS
        if (names := direct_reads(path.read_text()) - {"DJANGO_SETTINGS_MODULE"})
    }
    assert not by_hand, f"read these with contracts.settings_catalog.read_*: {sorted(by_hand)}"


def test_the_readme_table_is_generated_from_the_catalogue() -> None:
    readme = README.read_text()
    assert BEGIN in readme
    assert readme_with_table(readme) == readme, "run `python -m contracts.settings_catalog --write-readme`"


def test_the_readme_check_notices_a_stale_table() -> None:
    stale = README.read_text().replace("| `RDV_MAX_BATCH` |", "| `RDV_MAX_BATCHES` |")
    assert readme_with_table(stale) != stale


def test_each_variable_is_declared_once_and_documented() -> None:
    names = [declared.name for declared in SETTINGS]
    assert len(names) == len(set(names))
    assert all(declared.doc and declared.read_by for declared in SETTINGS)


def test_what_production_refuses_is_declared() -> None:
    assert {rule.setting for rule in DEV_DEFAULTS} <= {declared.name for declared in SETTINGS}


def test_the_kafka_declarations_match_the_adapter() -> None:
    assert setting("RDV_KAFKA_CLIENT").choices == CLIENTS
    assert setting("RDV_KAFKA_SECURITY_PROTOCOL").choices == SECURITY_PROTOCOLS
    assert setting("RDV_KAFKA_SASL_MECHANISM").choices == SASL_MECHANISMS
    assert PLATFORM_ROLE_NAMES == PLATFORM_ROLES
    field_of = {
        "RDV_KAFKA_BOOTSTRAP": "bootstrap_servers", "RDV_KAFKA_CLIENT": "client",
        "RDV_KAFKA_REPLICATION": "replication_factor", "RDV_KAFKA_LINGER_MS": "linger_ms",
        "RDV_KAFKA_FETCH_WAIT_MS": "fetch_wait_ms", "RDV_KAFKA_SECURITY_PROTOCOL": "security_protocol",
        "RDV_KAFKA_SASL_MECHANISM": "sasl_mechanism", "RDV_KAFKA_USERNAME": "username",
        "RDV_KAFKA_PASSWORD": "password",
    }
    defaults = {field.name: field.default for field in fields(KafkaSettings)}
    assert {name: setting(name).default for name in field_of} == {name: defaults[f] for name, f in field_of.items()}


@pytest.mark.parametrize(
    ("reader", "name", "value", "message"),
    [
        (read_int, "RDV_MAX_BATCH", "lots", "RDV_MAX_BATCH must be a whole number, not 'lots'"),
        (read_int, "RDV_MAX_BATCH", "0", "RDV_MAX_BATCH must be at least 1, not 0"),
        (read_float, "RDV_MODEL_MEMORY_MB", "0", "RDV_MODEL_MEMORY_MB must be more than 0, not 0"),
        (read_float, "RDV_MODEL_MEMORY_MB", "nan", "RDV_MODEL_MEMORY_MB must be a finite number"),
        (read_float, "RDV_PUBLISH_TIMEOUT_S", "soon", "RDV_PUBLISH_TIMEOUT_S must be a number, not 'soon'"),
        (read_bool, "RDV_RUNNER_TRUSTED", "maybe", "RDV_RUNNER_TRUSTED must be a boolean"),
        (read_str, "RDV_KAFKA_CLIENT", "java", "RDV_KAFKA_CLIENT must be one of confluent, kafka-python, not 'java'"),
    ],
)
def test_a_bad_value_is_refused_naming_the_variable(reader, name: str, value: str, message: str) -> None:  # noqa: ANN001
    with pytest.raises(SettingError, match=re.escape(message)):
        reader({name: value}, name)


def test_values_defaults_and_blanks() -> None:
    assert read_int({}, "RDV_MAX_BATCH") == 256
    assert read_int({"RDV_MAX_BATCH": " 32 "}, "RDV_MAX_BATCH") == 32
    assert read_int({"RDV_MAX_BATCH": ""}, "RDV_MAX_BATCH") == 256, "blank is unset"
    assert read_float({"RDV_KAFKA_LINGER_MS": "2"}, "RDV_KAFKA_LINGER_MS") == 2.0
    assert read_bool({"RDV_RUNNER_TRUSTED": "yes"}, "RDV_RUNNER_TRUSTED") is True
    assert read_bool({"DJANGO_SECURE_COOKIES": ""}, "DJANGO_SECURE_COOKIES") is False, "a blank flag is off"
    assert read_bool({}, "DJANGO_SECURE_COOKIES") is True
    assert read_list({"RDV_TRUSTED_POOLS": "a, b,"}, "RDV_TRUSTED_POOLS") == ("a", "b")
    assert read_optional_int({}, "RDV_CONSUMER_SESSION_TIMEOUT_MS") is None
    assert read_optional_str({}, "RDV_RUNNER_HEALTH_FILE") is None
    assert read_str({}, "RDV_PUBLIC_URL", default="http://x") == "http://x"
    with pytest.raises(SettingError, match="DATABASE_URL is required"):
        read_str({}, "DATABASE_URL")


def test_reading_an_undeclared_or_mistyped_variable_is_a_programming_error() -> None:
    with pytest.raises(UndeclaredSetting, match="RDV_NOPE"):
        read_str({}, "RDV_NOPE")
    with pytest.raises(TypeError, match="RDV_MAX_BATCH is declared as int"):
        read_str({}, "RDV_MAX_BATCH")


def test_a_declaration_must_be_complete() -> None:
    with pytest.raises(ValueError, match="document it"):
        Setting("RDV_X", "int", 1, " ", ("runner",), "Runner")
    with pytest.raises(ValueError, match="not one of its choices"):
        Setting("RDV_X", "choice", "c", "doc", ("runner",), "Runner", choices=("a", "b"))
