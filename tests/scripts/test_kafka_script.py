"""scripts/kafka.sh keeps the broker's passwords out of the repository and readable by its owner only,
and creates exactly the principals the ACLs are written for."""

from __future__ import annotations

import os
import re
import stat
import subprocess
from pathlib import Path

from contracts.kafka.acls import PLATFORM_ROLES, platform_principal

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "kafka.sh"


def test_the_script_creates_the_principals_the_acls_name() -> None:
    roles = re.search(r"^ROLES=\(([^)]*)\)", SCRIPT.read_text(), re.MULTILINE)
    assert roles is not None
    assert tuple(roles.group(1).split()) == PLATFORM_ROLES


def test_credentials_are_private_to_the_owner_and_printed_per_role(kafka_bootstrap: str) -> None:
    data = Path(os.environ["RDV_KAFKA_DATA"])  # the test broker's (scripts/test.sh)
    credentials = data / "credentials.env"
    assert stat.S_IMODE(credentials.stat().st_mode) == 0o600
    assert stat.S_IMODE((data / "server.properties").stat().st_mode) == 0o600  # holds the admin's JAAS line
    assert not credentials.resolve().is_relative_to(ROOT)

    for role in ("runner", "controlplane"):
        printed = subprocess.run(
            ["bash", str(SCRIPT), "env", role], capture_output=True, text=True, check=True, env=os.environ
        ).stdout
        lines = dict(line.split("=", 1) for line in printed.splitlines())
        assert lines["RDV_KAFKA_USERNAME"] == platform_principal(role)
        assert lines["RDV_KAFKA_PASSWORD"] == os.environ[f"RDV_KAFKA_{role.upper()}_PASSWORD"]
        assert lines["RDV_KAFKA_SECURITY_PROTOCOL"] == "SASL_PLAINTEXT"
        assert lines["RDV_KAFKA_BOOTSTRAP"] == kafka_bootstrap
