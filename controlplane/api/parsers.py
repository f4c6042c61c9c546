"""JSON parsing for the API: strict JSON within limits (controlplane/jsonlimits.py), and no NUL characters.

JSON allows ``\\u0000``; PostgreSQL's ``jsonb`` and ``text`` do not, so such a body would otherwise pass
validation and fail at the database as a 500. Refusing it up front makes it the client's 400. The
body's size is bounded here (``RDV_API_JSON_MAX_BYTES``, 413): DRF reads the request stream itself, past
Django's ``DATA_UPLOAD_MAX_MEMORY_SIZE``. NaN/Infinity and nesting deeper than ``MAX_JSON_DEPTH`` are 400s.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from rest_framework import parsers
from rest_framework.exceptions import ParseError

from controlplane.errors import TooLarge
from controlplane.jsonlimits import JSONRefused, json_loads_strict

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
        limit = settings.RDV_API_JSON_MAX_BYTES
        raw = stream.read(limit + 1) if stream is not None else b""
        if len(raw) > limit:
            raise TooLarge(f"the JSON body is over {limit} bytes")
        encoding = (parser_context or {}).get("encoding") or settings.DEFAULT_CHARSET
        try:
            data = json_loads_strict(raw.decode(encoding))
        except (JSONRefused, UnicodeDecodeError, LookupError) as exc:
            raise ParseError(f"JSON parse error - {exc}") from exc
        if contains_nul(data):
            raise ParseError(NUL_MESSAGE)
        return data
