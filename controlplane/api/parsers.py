"""JSON parsing that refuses what PostgreSQL cannot store: NUL characters in strings or keys.

JSON allows ``\\u0000``; PostgreSQL's ``jsonb`` and ``text`` do not, so such a body would otherwise pass
validation and fail at the database as a 500. Refusing it up front makes it the client's 400.
"""

from __future__ import annotations

from typing import Any

from rest_framework import parsers
from rest_framework.exceptions import ParseError

NUL_MESSAGE = "JSON strings and keys cannot contain the NUL character (\\u0000)."


def contains_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(contains_nul(key) or contains_nul(item) for key, item in value.items())
    if isinstance(value, list):
        return any(contains_nul(item) for item in value)
    return False


class JSONParser(parsers.JSONParser):
    def parse(self, stream: Any, media_type: str | None = None, parser_context: dict | None = None) -> Any:
        data = super().parse(stream, media_type, parser_context)
        if contains_nul(data):
            raise ParseError(NUL_MESSAGE)
        return data
