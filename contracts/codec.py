"""JSON codecs for every message type; one encoder and a cached decoder per type."""

from __future__ import annotations

from functools import cache
from typing import Any, TypeVar

import msgspec

from contracts.messages import Decision, DecisionBatch, Score, ScoreBatch

T = TypeVar("T")

_encoder = msgspec.json.Encoder()


class DecodeError(ValueError):
    """A record that is not JSON or not of the expected shape (goes to the dead-letter topic)."""


def encode(message: Any) -> bytes:
    return _encoder.encode(message)


@cache
def _decoder(message_type: type[T]) -> msgspec.json.Decoder[T]:
    return msgspec.json.Decoder(message_type)


def decode(message_type: type[T], data: bytes | str) -> T:
    try:
        return _decoder(message_type).decode(data)
    except msgspec.DecodeError as exc:
        raise DecodeError(f"{message_type.__name__}: {exc}") from exc


def decode_scores(value: bytes) -> list[Score]:
    """The Scores a scores record holds: a ScoreBatch (what runners write, *changed (runtime)*) or a
    single Score (what runners wrote before; still read, so rendezvous workers can be upgraded first).
    Raises DecodeError when it is neither, with the error of the shape it looks meant to be."""
    try:
        return decode(ScoreBatch, value).unpack()
    except DecodeError as batch_error:
        try:
            return [decode(Score, value)]
        except DecodeError as score_error:
            raise (batch_error if _has_key(value, "scores") else score_error) from None


def decode_decisions(value: bytes) -> list[Decision]:
    """The Decisions a decisions record holds: a DecisionBatch (what rendezvous workers write,
    *changed (runtime)*) or a single Decision (what they wrote before). Raises DecodeError when neither."""
    try:
        return decode(DecisionBatch, value).decisions
    except DecodeError as batch_error:
        try:
            return [decode(Decision, value)]
        except DecodeError as decision_error:
            raise (batch_error if _has_key(value, "decisions") else decision_error) from None


def _has_key(value: bytes, key: str) -> bool:
    """Whether ``value`` is a JSON object with ``key``: which of two shapes a broken record was meant
    to be, so its dead letter names the relevant error (only ever called on records that are broken)."""
    try:
        parsed = msgspec.json.decode(value)
    except msgspec.DecodeError:
        return False
    return isinstance(parsed, dict) and key in parsed


def to_builtins(message: Any) -> Any:
    """A message as plain dicts and lists, e.g. for an HTTP answer."""
    return msgspec.to_builtins(message)
