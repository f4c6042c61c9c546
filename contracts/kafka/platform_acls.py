"""Apply the platform's ACLs (contracts/kafka/acls.py) to the broker; idempotent.

Run with the admin's credentials in the environment (``scripts/kafka.sh start`` does it after every
start, docker-compose in its ``kafka-acls`` service)::

    env $(scripts/kafka.sh env) python -m contracts.kafka.platform_acls
"""

from __future__ import annotations

import sys

from contracts.kafka import KafkaSettings, make_admin
from contracts.kafka.acls import platform_acls


def main() -> int:
    settings = KafkaSettings.from_env()
    if not settings.uses_sasl:
        print("platform ACLs: RDV_KAFKA_SECURITY_PROTOCOL is PLAINTEXT, nothing to apply", file=sys.stderr)
        return 2
    admin = make_admin(settings)
    try:
        bindings = platform_acls()
        admin.create_acls(bindings)
    finally:
        admin.close()
    print(f"platform ACLs applied ({len(bindings)} bindings) as {settings.username}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
