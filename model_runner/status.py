"""What this runner tells the control plane about its versions (the ``versions`` of its WorkerStatus).

Read from the hosting's public view only, so it stays right however hosting loads, evicts or retries:
a version routed here but not hosted (e.g. loaded only on its first request) reports ``idle``.
"""

from __future__ import annotations

from contracts.kafka import Producer
from contracts.messages import VersionStatus
from contracts.status import StatusReporter
from model_runner.hosting import HostedModels
from model_runner.settings import RunnerSettings


def hosted_versions(hosting: HostedModels) -> list[VersionStatus]:
    """One entry per distinct version routed to this runner's pool, in a stable order."""
    seen: dict[tuple[str, str, int, str], VersionStatus] = {}
    for (tenant, _service), specs in sorted(hosting.routed_services().items()):
        for spec in specs:
            key = (tenant, spec.model, spec.version, spec.sha256.lower())
            if key in seen:
                continue
            hosted = hosting.version(tenant, spec)
            seen[key] = VersionStatus(
                tenant=tenant,
                model=spec.model,
                version=spec.version,
                sha256=key[3],
                state="idle" if hosted is None else hosted.state,
                error=None if hosted is None else hosted.error,
            )
    return list(seen.values())


def runner_status_reporter(settings: RunnerSettings, producer: Producer, hosting: HostedModels) -> StatusReporter:
    return StatusReporter(
        producer,
        worker=settings.runner_id,
        kind="runner",
        pool=settings.pool,
        interval_s=settings.status_interval_s,
        versions=lambda: hosted_versions(hosting),
    )
