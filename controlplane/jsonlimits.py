"""Strict JSON for every body the platform parses (predict and the API): bounded size and nesting, finite
numbers only.

Python's ``json`` accepts ``NaN``, ``Infinity`` and ``-Infinity`` (not JSON) and turns ``1e999`` into
``inf``; neither survives the trip to a model, PostgreSQL or another JSON parser, so both are refused
here with a message that says so. Deep nesting costs recursion in every later walk (the schema
validator, the codecs) and past about a thousand levels raises RecursionError, a 500: refused here too.
Django-free: the gateway's fast path and the API's parser share it.
"""

from __future__ import annotations

import json
import math
from typing import Any

MAX_JSON_DEPTH = 32
NON_FINITE_MESSAGE = "NaN, Infinity and -Infinity are not JSON; send finite numbers (or null)"


class JSONRefused(ValueError):
    """A body that is not strict JSON within the limits; the message is the client's 400 detail."""


def _refuse_constant(name: str) -> Any:
    raise JSONRefused(f"{NON_FINITE_MESSAGE} (found {name})")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise JSONRefused(f"{NON_FINITE_MESSAGE} (found {text}, out of range)")
    return value


def json_depth_exceeds(value: Any, limit: int) -> bool:
    """Whether arrays and objects nest more than ``limit`` levels (iterative: no recursion to overflow)."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, dict):
            children: Any = node.values()
        elif isinstance(node, list):
            children = node
        else:
            continue
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in children if isinstance(child, (dict, list)))
    return False


def json_loads_strict(data: bytes | str, *, max_depth: int = MAX_JSON_DEPTH) -> Any:
    """The parsed body; JSONRefused (a ValueError) for non-JSON, non-finite numbers or nesting too deep."""
    try:
        value = json.loads(data, parse_constant=_refuse_constant, parse_float=_finite_float)
    except RecursionError as exc:
        raise JSONRefused(f"arrays and objects nest more than {max_depth} levels deep") from exc
    except JSONRefused:
        raise
    except (ValueError, UnicodeDecodeError) as exc:
        raise JSONRefused(f"the body is not JSON: {exc}") from exc
    if json_depth_exceeds(value, max_depth):
        raise JSONRefused(f"arrays and objects nest more than {max_depth} levels deep")
    return value
