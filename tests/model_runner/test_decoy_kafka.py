"""The decoy in a real runner process on the real broker (acceptance 5).

The archive holds, byte for byte, the requests the models read - with the external state the gateway
injected - keyed by request_id and stamped with sent_at; the export of that range reads back in pandas
as the requests sent. A canary deployed next to it still scores. Poison reaches ``rdv.dlq`` once per
pool: from the scoring loop when the pool scores the service, from the decoy when it only archives it.
"""

from __future__ import annotations

import io
import json
import time
import uuid
from pathlib import Path

import pytest

from contracts.codec import decode, decode_scores
from contracts.config import ServiceConfig
from contracts.kafka import make_admin, make_producer
from contracts.messages import DeadLetter, Request
from contracts.topics import DLQ_TOPIC, service_topics
from contracts.topology import platform_topics, service_topic_specs
from controlplane.ops.archive_export import TimeRange, export_archive
from tests.controlplane.ops.pandas_reading import read_export
from tests.kafka_auth import kafka_settings
from tests.model_runner.factories import SavedModel
from tests.model_runner.runner_process import RunnerProcess, high_watermarks, publish_config, read_all

PARTITIONS = 4


def _raw_request(request_id: str, tenant: str, service: str, row: dict[str, float], index: int) -> bytes:
    """A request as a client might write it straight to Kafka: spaces, ``5.10``-style numbers and
    escaped unicode. Decoding and re-encoding would change these bytes; a faithful copy does not."""
    inputs = ", ".join(f'"{name}": {value:.2f}' for name, value in row.items())
    return (
        f'{{"request_id": "{request_id}", "tenant": "{tenant}", "service": "{service}", '
        f'"user_key": "user-{index % 3}", "sent_at": {time.time():.6f}, "deadline_ms": 60000, '
        f'"config_revision": 1, "inputs": {{{inputs}}}, '
        f'"external_state": {{"hour": {index % 24}, "country": "Fran\\u00e7e", '
        f'"risk": {{"score": 0.125, "tags": ["a", "b"]}}}}}}'
    ).encode()


@pytest.mark.parametrize("client", ["confluent", "kafka-python"])
def test_decoy_archives_byte_identical_requests_and_the_export_reads_them_back(
    client: str, kafka_bootstrap: str, iris_classifier: SavedModel, tmp_path: Path
) -> None:
    suffix = uuid.uuid4().hex[:10]
    tenant, pool = f"t-{suffix}", f"p-{suffix}"
    iris, audit, late = (service_topics(tenant, s) for s in ("iris", "audit", "late"))
    settings = kafka_settings(kafka_bootstrap, client)
    admin = make_admin(settings)
    admin.ensure_topics(platform_topics())
    # Only the requests and scores topics: the decoy must create the archive topic it writes.
    admin.ensure_topics([t for t in service_topic_specs(tenant, "iris", PARTITIONS) if t.name != iris.archive])
    admin.ensure_topics(service_topic_specs(tenant, "audit", PARTITIONS))
    producer = make_producer(settings)

    def spec(model: str, role: str, in_pool: str = pool):  # noqa: ANN202
        return iris_classifier.spec("skops", model=model, version=1, role=role, pool=in_pool)

    configs = {
        "iris": (spec("iris-lr", "champion"), spec("iris-base", "canary"), spec("iris-decoy", "decoy")),
        # This pool only archives "audit"; another pool scores it.
        "audit": (spec("audit-decoy", "decoy"), spec("audit-lr", "champion", f"{pool}-x")),
    }
    for service, deployments in configs.items():
        config = ServiceConfig(
            tenant=tenant, service=service, revision=1, deadline_ms=5000, partitions=PARTITIONS,
            deployments=deployments, published_at=time.time(),
        )
        publish_config(producer, config, tenant=tenant, service=service)

    runner = RunnerProcess(
        bootstrap=kafka_bootstrap, client=client, pool=pool, runner_id=f"test-{suffix}", tmp=tmp_path
    )
    try:
        assert runner.ready.wait(60), f"runner never became ready:\n{runner.output()}"
        dlq_start = high_watermarks(settings, DLQ_TOPIC, 4)
        rows = iris_classifier.rows(150)[::10]
        sent: dict[str, bytes] = {}
        for index, row in enumerate(rows):
            request_id = f"{suffix}-{index}"
            sent[request_id] = _raw_request(request_id, tenant, "iris", row, index)
            producer.produce(iris.requests, sent[request_id], key=request_id.encode(), partition=index % PARTITIONS)
        producer.produce(iris.requests, b"{not json", key=f"poison-iris-{suffix}".encode(), partition=1)
        producer.produce(audit.requests, b"{not json", key=f"poison-audit-{suffix}".encode(), partition=0)
        audit_raw = _raw_request(f"{suffix}-audit", tenant, "audit", rows[0], 0)
        producer.produce(audit.requests, audit_raw, key=f"{suffix}-audit".encode(), partition=0)
        assert producer.flush(10) == 0

        archived = read_all(settings, iris.archive, PARTITIONS, until=len(sent), runner=runner)
        assert {r.key.decode(): r.value for r in archived} == sent  # byte for byte, keyed by request_id
        for record in archived:
            request = decode(Request, record.value)
            assert record.timestamp_ms == int(request.sent_at * 1000)
            assert request.external_state["risk"] == {"score": 0.125, "tags": ["a", "b"]}
        [audit_copy] = read_all(settings, audit.archive, PARTITIONS, until=1, runner=runner)
        assert audit_copy.value == audit_raw

        score_records = read_all(settings, iris.scores, PARTITIONS, until=2 * len(sent), runner=runner,
                                 count=lambda r: len(decode_scores(r.value)))
        scores = [s for r in score_records for s in decode_scores(r.value)]
        by_role = {(s.request_id, s.role): s for s in scores}
        assert {s.model for s in scores} == {"iris-lr", "iris-base"}  # the decoy never scores
        for request_id in sent:
            canary = by_role[(request_id, "canary")]
            assert canary.status == "ok" and canary.output is not None and "label" in canary.output

        def letter_for(key: str):  # noqa: ANN202
            return lambda record: record.key == key.encode()

        time.sleep(3)  # time for a duplicate dead letter to show up, if one were sent
        for key in (f"poison-iris-{suffix}", f"poison-audit-{suffix}"):
            letters = read_all(settings, DLQ_TOPIC, 4, until=1, start=dlq_start, runner=runner,
                               accept=letter_for(key), timeout=5)
            assert len(letters) == 1, f"{key}: {len(letters)} dead letters"
            assert decode(DeadLetter, letters[0].value).error.startswith("Request:")

        # The decoy follows the live config: "late" gains a decoy in this pool, "audit" loses its own.
        configs["late"] = (spec("late-decoy", "decoy"),)
        configs["audit"] = (spec("audit-lr", "champion", f"{pool}-x"),)
        for service in ("late", "audit"):
            config = ServiceConfig(
                tenant=tenant, service=service, revision=2, deadline_ms=5000, partitions=PARTITIONS,
                deployments=configs[service], published_at=time.time(),
            )
            publish_config(producer, config, tenant=tenant, service=service)
        time.sleep(2)  # the follower applies both configs
        producer.produce(audit.requests, _raw_request(f"{suffix}-a2", tenant, "audit", rows[1], 1), partition=0)
        late_raw = _raw_request(f"{suffix}-late", tenant, "late", rows[2], 2)
        producer.produce(late.requests, late_raw, key=f"{suffix}-late".encode(), partition=0)
        assert producer.flush(10) == 0
        [late_copy] = read_all(settings, late.archive, PARTITIONS, until=1, runner=runner, timeout=60)
        assert late_copy.value == late_raw
        time.sleep(2)
        audit_copies = read_all(settings, audit.archive, PARTITIONS, until=1, runner=runner, timeout=3)
        assert [r.value for r in audit_copies] == [audit_raw], "a service without a decoy is not archived"

        # Acceptance 5, second half: the export of that range reads back in pandas as the requests sent.
        span = TimeRange(since=min(decode(Request, v).sent_at for v in sent.values()) - 1, until=time.time() + 1)
        expected = sorted((json.loads(v) for v in sent.values()), key=lambda r: r["request_id"])
        for fmt in ("jsonl", "parquet"):
            output, progress = tmp_path / f"archive.{fmt}", io.StringIO()
            summary = export_archive(
                settings, tenant=tenant, service="iris", span=span, fmt=fmt, output=output,  # type: ignore[arg-type]
                progress_stream=progress,
            )
            assert summary.rows == len(sent)
            assert f"{summary.read}/{summary.read} records" in progress.getvalue()
            frame = read_export(output)
            frame = frame.sort_values("request_id").reset_index(drop=True)
            assert list(frame["request_id"]) == [r["request_id"] for r in expected]
            assert list(frame["sent_at"]) == [r["sent_at"] for r in expected]
            assert list(frame["user_key"]) == [r["user_key"] for r in expected]
            for name in iris_classifier.features:
                assert list(frame[f"inputs.{name}"]) == [r["inputs"][name] for r in expected]
            assert list(frame["external_state.hour"]) == [r["external_state"]["hour"] for r in expected]
            assert set(frame["external_state.country"]) == {"Fran\u00e7e"}
            risks = [json.loads(v) for v in frame["external_state.risk"]]
            assert risks == [r["external_state"]["risk"] for r in expected]

        assert runner.stop() == 0, runner.output()
        stopped = [line for line in runner.lines if "decoy loop stopped" in line]
        assert stopped and f"'archived': {len(sent) + 2}" in stopped[0], runner.output()
    finally:
        runner.stop()
        for service in configs:
            publish_config(producer, None, tenant=tenant, service=service)
        admin.delete_topics(iris.all() + audit.all() + late.all())
        admin.close()
