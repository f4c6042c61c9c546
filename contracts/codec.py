"""JSON codecs for every message type; one encoder and a cached decoder per type."""

from __future__ import annotations

from functools import cache
from typing import Any, TypeVar

import msgspec

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


def to_builtins(message: Any) -> Any:
    """A message as plain dicts and lists, e.g. for an HTTP answer."""
    return msgspec.to_builtins(message)
