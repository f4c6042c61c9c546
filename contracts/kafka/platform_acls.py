"""Apply the platform's ACLs (contracts/kafka/acls.py) to the broker; idempotent.

Run with the admin's credentials in the environment (``scripts/kafka.sh start`` does it after every
start)::

    env $(scripts/kafka.sh env) python -m contracts.kafka.platform_acls

``--upsert-credentials`` also sets the SCRAM password of every platform role whose
``RDV_KAFKA_<ROLE>_PASSWORD`` is in the environment: docker-compose's ``kafka-init`` service does so,
as the apache/kafka image cannot add SCRAM credentials when it formats its storage (the admin then
logs in with SASL/PLAIN against the broker's static JAAS entry).
"""

from __future__ import annotations

import argparse
import os
import sys

from contracts.kafka import KafkaSettings, make_admin
from contracts.kafka.acls import PLATFORM_ROLES, platform_acls, platform_principal
from contracts.kafka.base import SCRAM_MECHANISMS
from contracts.settings_catalog import read_str


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--upsert-credentials", action="store_true")
    args = parser.parse_args(argv)
    settings = KafkaSettings.from_env()
    if not settings.uses_sasl:
        print("platform ACLs: RDV_KAFKA_SECURITY_PROTOCOL is PLAINTEXT, nothing to apply", file=sys.stderr)
        return 2
    mechanism = settings.sasl_mechanism if settings.sasl_mechanism in SCRAM_MECHANISMS else "SCRAM-SHA-512"
    admin = make_admin(settings)
    try:
        if args.upsert_credentials:
            for role in PLATFORM_ROLES:
                password = read_str(os.environ, f"RDV_KAFKA_{role.upper()}_PASSWORD")
                if role != "admin" and password:
                    admin.upsert_scram_credential(platform_principal(role), password, mechanism)
                    print(f"SCRAM credential of {platform_principal(role)} set")
        bindings = platform_acls()
        admin.create_acls(bindings)
    finally:
        admin.close()
    print(f"platform ACLs applied ({len(bindings)} bindings) as {settings.username}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
