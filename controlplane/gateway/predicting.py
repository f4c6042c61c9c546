"""One prediction, independent of the web framework: authorise, admit, validate, publish, await the Result.

Both the Django view and the raw ASGI fast path (controlplane/gateway/asgi.py) call ``predict``; it
answers an HTTP status, a JSON body and extra headers, never raises for a client's mistake. Admission
against the tenant's quotas (controlplane/gateway/admission.py) comes before the body is even parsed,
so a tenant past its rate costs the gateway one Redis round trip per refused call, nothing more.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any

from contracts.codec import encode
from contracts.kafka import KafkaError
from contracts.messages import Request, Result
from contracts.topics import service_topics
from controlplane.gateway.admission import get_admission
from controlplane.gateway.errors import GatewayError
from controlplane.gateway.inputs import parse_predict_body, validate_inputs
from controlplane.gateway.lookups import ServiceTarget, authorise, predict_quota, service_target
from controlplane.gateway.replies import get_hub
from controlplane.gateway.state import get_external_state, reject_injected_inputs

# How long past the deadline the gateway waits for the rendezvous before answering 504 itself.
RENDEZVOUS_SLACK_S = 0.5
STATUS_CODES = {"ok": 200, "timeout": 504, "error": 502}

Answer = tuple[int, dict[str, Any]]
# Status, body, extra headers.
Response = tuple[int, dict[str, Any], dict[str, str]]


def result_body(result: Result) -> dict[str, Any]:
    return {
        "request_id": result.request_id,
        "status": result.status,
        "output": result.output,
        "model": result.model,
        "version": result.version,
        "reason": result.reason,
        "latency_ms": result.latency_ms,
    }


async def predict(*, authorization: str | None, tenant: str, service: str, body: bytes) -> Response:
    request_id = uuid.uuid4().hex
    admission = get_admission()
    holding = False
    try:
        await authorise(authorization, tenant, "predict")
        target = await service_target(tenant, service)
        if target.schema_problems:
            raise GatewayError(
                409, "conflict", {"input_schema": ["no longer accepted, change it:", *target.schema_problems]}
            )
        hold_s = target.deadline_ms / 1000.0 + RENDEZVOUS_SLACK_S + 1.0
        holding = await admission.admit(tenant, await predict_quota(tenant), request_id, hold_s)
        inputs, user_key = parse_predict_body(body)
        validate_inputs(inputs, target.schema_json)
        reject_injected_inputs(inputs, target.state)
        status, answer = await _publish_and_wait(target, inputs, user_key, request_id)
        return status, answer, {}
    except GatewayError as exc:
        return exc.status, exc.body(), exc.headers
    finally:
        if holding:
            admission.release(tenant, request_id)


async def _publish_and_wait(
    target: ServiceTarget, inputs: dict[str, Any], user_key: str | None, request_id: str
) -> Answer:
    hub = get_hub()
    try:
        reply_to = hub.reply_to() if hub.ready else await asyncio.to_thread(hub.reply_to)
    except KafkaError as exc:
        raise GatewayError(503, "stream_unavailable", str(exc)) from exc
    sent_at = time.time()
    message = Request(
        request_id=request_id,
        tenant=target.tenant,
        service=target.service,
        user_key=user_key,
        sent_at=sent_at,
        deadline_ms=target.deadline_ms,
        config_revision=target.revision,
        inputs=inputs,
        # Once, here, before fan-out: every model of the request sees these very bytes (DESIGN.md §4).
        external_state=await get_external_state().values(
            target.state, inputs, user_key, sent_at, tenant=target.tenant
        ),
        reply_to=reply_to,
    )
    future = hub.expect(message.request_id)
    try:
        hub.producer.produce(
            service_topics(target.tenant, target.service).requests,
            encode(message),
            key=message.request_id.encode(),
        )
    except KafkaError as exc:
        hub.forget(message.request_id)
        raise GatewayError(503, "stream_unavailable", str(exc)) from exc
    try:
        result = await asyncio.wait_for(future, target.deadline_ms / 1000.0 + RENDEZVOUS_SLACK_S)
    except TimeoutError:
        hub.forget(message.request_id)
        return 504, {
            "request_id": message.request_id,
            "status": "timeout",
            "output": None,
            "model": None,
            "version": None,
            "reason": "no-rendezvous",
            "latency_ms": (time.time() - message.sent_at) * 1000,
        }
    return STATUS_CODES.get(result.status, 502), result_body(result)
