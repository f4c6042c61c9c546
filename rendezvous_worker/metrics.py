"""The rendezvous' Prometheus series (DESIGN.md §7, *extension (monitoring)*), tallied once per batch of
closed decisions: every request once, by the deployment that answered it (``model``, ``version`` and
``role`` empty when none did) and its status, with its end-to-end latency; and every candidate of every
decision by what became of it. Off unless ``RDV_RENDEZVOUS_METRICS_PORT`` is set.
"""

from __future__ import annotations

from collections.abc import Iterable

from prometheus_client import CollectorRegistry

from contracts.messages import Candidate, Decision
from streaming.exporter import LoopCollector, RequestMetrics, RequestTally, process_registry


class RendezvousMetrics:
    def __init__(self) -> None:
        self.requests = RequestMetrics(
            counter="rdv_requests_total",
            counter_help="Requests decided by the rendezvous, by the deployment that answered (outcome: the "
            "result's status, ok, timeout or error).",
            histogram="rdv_request_duration_seconds",
            histogram_help="End-to-end latency of each decided request, from its sending to its answer.",
        )
        self.candidates = RequestMetrics(
            counter="rdv_candidates_total",
            counter_help="What became of each deployment's score for each decided request (outcome: won, ok, "
            "error, missing at the deadline, or late).",
            histogram="rdv_candidate_duration_seconds",
            histogram_help="The scoring latency each candidate's runner reported.",
        )

    def decided(self, decisions: Iterable[Decision]) -> None:
        requests, candidates = RequestTally(), RequestTally()
        for decision in decisions:
            tally_decision(requests, candidates, decision)
        self.requests.merge(requests)
        self.candidates.merge(candidates)

    def registry(self, loops: LoopCollector) -> CollectorRegistry:
        registry = process_registry()
        registry.register(self.requests)
        registry.register(self.candidates)
        registry.register(loops)
        return registry


def candidate_outcome(candidate: Candidate, decision: Decision) -> str:
    if candidate.late:
        return "late"
    if candidate.status == "ok" and (candidate.model, candidate.version) == (decision.model, decision.version):
        return "won"
    return candidate.status  # ok (scored in time, not chosen), error, missing


def tally_decision(requests: RequestTally, candidates: RequestTally, decision: Decision) -> None:
    tenant, service = decision.tenant, decision.service
    role = ""
    for candidate in decision.candidates:
        outcome = candidate_outcome(candidate, decision)
        if outcome == "won":
            role = candidate.role
        latency = None if candidate.latency_ms is None else candidate.latency_ms / 1000.0
        key = (tenant, service, candidate.model, str(candidate.version), candidate.role, outcome)
        candidates.add(key, latency)
    version = "" if decision.version is None else str(decision.version)
    key = (tenant, service, decision.model or "", version, role, decision.status)
    requests.add(key, decision.latency_ms / 1000.0)
