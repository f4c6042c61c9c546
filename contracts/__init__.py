"""The wire contract of Rendezvous: topic names, message types, codecs and the config snapshot.

Django-free on purpose: the control plane, the model runners and the rendezvous workers all import
it, so it depends on nothing heavier than msgspec.
"""

from contracts.codec import DecodeError, decode, encode
from contracts.config import DeploymentSpec, ServiceConfig
from contracts.messages import (
    AppliedRevision,
    Candidate,
    DeadLetter,
    Decision,
    DecisionBatch,
    DriftReport,
    FeatureHistogram,
    ReplyTo,
    Request,
    Result,
    Score,
    ScoreBatch,
    VersionStatus,
    WorkerStatus,
)
from contracts.roles import ANSWERING_ROLES, Role
from contracts.topics import (
    CONFIG_TOPIC,
    DLQ_TOPIC,
    DRIFT_TOPIC,
    REPLIES_TOPIC,
    STATUS_TOPIC,
    ServiceTopics,
    config_key,
    is_valid_slug,
    service_topics,
)

__all__ = [
    "ANSWERING_ROLES",
    "AppliedRevision",
    "CONFIG_TOPIC",
    "Candidate",
    "DLQ_TOPIC",
    "DRIFT_TOPIC",
    "DeadLetter",
    "Decision",
    "DecisionBatch",
    "DecodeError",
    "DeploymentSpec",
    "DriftReport",
    "FeatureHistogram",
    "REPLIES_TOPIC",
    "STATUS_TOPIC",
    "ReplyTo",
    "Request",
    "Result",
    "Role",
    "Score",
    "ScoreBatch",
    "ServiceConfig",
    "ServiceTopics",
    "VersionStatus",
    "WorkerStatus",
    "config_key",
    "decode",
    "encode",
    "is_valid_slug",
    "service_topics",
]
