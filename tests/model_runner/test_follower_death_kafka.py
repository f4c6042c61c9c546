"""Issue 15, acceptance 2: a runner whose config topic becomes unreadable stops, loudly, and soon.

A real ``python -m model_runner`` runs as a principal of its own with the runner's ACLs; once it is
ready, that principal is denied reading ``rdv.config``. The config follower cannot follow any more:
the process must say so and exit non-zero, never keep scoring on a config it no longer follows.
"""

from __future__ import annotations

import os
import secrets
import subprocess
import time
import uuid
from dataclasses import replace
from pathlib import Path

import pytest

from contracts.kafka import AclBinding, make_admin
from contracts.kafka.acls import platform_acls, platform_principal
from contracts.topics import CONFIG_TOPIC
from contracts.topology import platform_topics
from tests.kafka_auth import kafka_settings
from tests.model_runner.runner_process import RunnerProcess

EXIT_WITHIN_S = 45.0


@pytest.mark.parametrize("client", ["confluent", "kafka-python"])
def test_a_runner_that_can_no_longer_read_the_config_reports_it_and_exits_non_zero(
    client: str, kafka_bootstrap: str, tmp_path: Path
) -> None:
    if not os.environ.get("RDV_KAFKA_USERNAME"):
        pytest.fail("the broker must authenticate (run the tests with `make test`)")
    suffix = uuid.uuid4().hex[:10]
    settings = kafka_settings(kafka_bootstrap, client)
    admin = make_admin(settings)
    admin.ensure_topics(platform_topics())
    # A principal of its own with exactly the runner's ACLs: the denial below touches no other test.
    principal, password = f"rdv-runner-t{suffix}", secrets.token_urlsafe(24)
    runner_acls = [
        replace(binding, principal=principal)
        for binding in platform_acls()
        if binding.principal == platform_principal("runner")
    ]
    denied = AclBinding(principal, "topic", CONFIG_TOPIC, "read", allow=False)
    admin.upsert_scram_credential(principal, password, settings.sasl_mechanism)
    admin.create_acls(runner_acls)
    runner = RunnerProcess(
        bootstrap=kafka_bootstrap, client=client, pool=f"p-{suffix}", runner_id=f"test-{suffix}", tmp=tmp_path,
        RDV_KAFKA_USERNAME=principal, RDV_KAFKA_PASSWORD=password,
    )
    try:
        assert runner.ready.wait(60), f"runner never became ready:\n{runner.output()}"
        time.sleep(1.0)  # every loop is turning
        assert runner.process.poll() is None, runner.output()

        admin.create_acls([denied])
        denied_at = time.monotonic()
        try:
            code = runner.process.wait(EXIT_WITHIN_S)
        except subprocess.TimeoutExpired:
            pytest.fail(f"the runner kept running {EXIT_WITHIN_S:.0f} s on a config it cannot read:\n{runner.output()}")
        took = time.monotonic() - denied_at
        assert code != 0, f"exit code {code}:\n{runner.output()}"
        output = runner.output(200)
        assert "the config is no longer followed" in output, output
        assert "stopping rather than serving it stale" in output, output
        print(f"{client}: the runner exited {code} {took:.1f} s after losing rdv.config")
    finally:
        runner.stop()
        admin.delete_acls([*runner_acls, denied])
        admin.delete_scram_credential(principal, settings.sasl_mechanism)
        admin.close()
