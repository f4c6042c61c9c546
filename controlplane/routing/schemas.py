"""A tenant's ``input_schema``: the safe subset of JSON Schema the gateway evaluates, and how it evaluates it.

The gateway validates every predict body against the service's schema on its event loop, so a schema is
tenant code run inside the platform. Three rules keep its cost bounded and linear in the body (issue 14):

- only the keywords in ``SAFE_KEYWORDS`` (this list is the one place they are named); ``$ref`` only to
  ``#/$defs/<name>`` without cycles, never remote; ``uniqueItems`` refused (quadratic on arrays of
  objects in jsonschema); ``format`` is an annotation the gateway never asserts;
- bounded size, nesting depth and number of subschemas;
- ``pattern`` and ``patternProperties`` are compiled and matched with RE2, a linear-time engine (no
  backtracking, so ``^(a+)+$`` costs the same as ``^a+$``); a pattern RE2 cannot compile (backreferences,
  lookaround) is refused when the service is created or changed, and jsonschema's own ``re`` is never
  used on a tenant's pattern.

Django-free: the routing model checks schemas with ``schema_problems``, the gateway builds validators
with ``safe_validator``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from functools import lru_cache
from typing import Any

import re2
from jsonschema import Draft202012Validator, validators
from jsonschema.exceptions import SchemaError, ValidationError

MAX_SCHEMA_BYTES = 64 * 1024
MAX_SCHEMA_DEPTH = 16
MAX_SUBSCHEMAS = 512
# What validating one value may visit once every $ref is followed: references multiply (a chain of
# $defs each referring twice to the next is tiny as written and 2^n subschemas when evaluated).
MAX_EXPANDED_SUBSCHEMAS = 2048
MAX_PATTERN_CHARS = 1000
DRAFT_2020_12 = "https://json-schema.org/draft/2020-12/schema"

# Keywords whose value is a schema, a list of schemas, or a map of names to schemas.
SCHEMA_KEYWORDS = frozenset({"items", "contains", "not", "if", "then", "else", "additionalProperties", "propertyNames"})
SCHEMA_LIST_KEYWORDS = frozenset({"allOf", "anyOf", "oneOf", "prefixItems"})
SCHEMA_MAP_KEYWORDS = frozenset({"properties", "patternProperties", "$defs", "dependentSchemas"})
# Keywords that check the instance in time linear in it (or annotate only).
ASSERTION_KEYWORDS = frozenset(
    {
        "type", "enum", "const", "multipleOf", "maximum", "exclusiveMaximum", "minimum", "exclusiveMinimum",
        "maxLength", "minLength", "pattern", "maxItems", "minItems", "maxContains", "minContains",
        "maxProperties", "minProperties", "required", "dependentRequired", "format",
    }
)  # fmt: skip
ANNOTATION_KEYWORDS = frozenset(
    {"$schema", "$ref", "$comment", "title", "description", "default", "examples", "deprecated", "readOnly",
     "writeOnly"}
)  # fmt: skip
SAFE_KEYWORDS = SCHEMA_KEYWORDS | SCHEMA_LIST_KEYWORDS | SCHEMA_MAP_KEYWORDS | ASSERTION_KEYWORDS | ANNOTATION_KEYWORDS
# Why the usual suspects are refused, said in the 400.
REFUSED_BECAUSE = {
    "uniqueItems": "quadratic in the array's length",
    "unevaluatedProperties": "re-walks every subschema for each property",
    "unevaluatedItems": "re-walks every subschema for each item",
    "$id": "changes how references resolve",
    "$anchor": "only #/$defs/<name> references are allowed",
    "$dynamicRef": "only #/$defs/<name> references are allowed",
    "$dynamicAnchor": "only #/$defs/<name> references are allowed",
    "$vocabulary": "the vocabulary is fixed",
}
# ``format`` is never asserted by the gateway (no format checker): annotations from this list only.
ANNOTATION_FORMATS = frozenset(
    {"date-time", "date", "time", "duration", "email", "hostname", "ipv4", "ipv6", "uri", "uuid"}
)
_DEF_REF_PREFIX = "#/$defs/"


def _re2_options() -> re2.Options:
    options = re2.Options()
    options.log_errors = False  # a refused pattern is the tenant's 400, not a line in our logs
    return options


_OPTIONS = _re2_options()


@lru_cache(maxsize=4096)
def compiled_pattern(pattern: str) -> Any:
    """The RE2 program of a tenant's pattern; raises ``re2.error`` when RE2 cannot run it."""
    return re2.compile(pattern, _OPTIONS)


def _pattern_problem(pattern: Any, where: str) -> str | None:
    if not isinstance(pattern, str):
        return f"{where}: a pattern must be a string"
    if len(pattern) > MAX_PATTERN_CHARS:
        return f"{where}: pattern is {len(pattern)} characters, the limit is {MAX_PATTERN_CHARS}"
    try:
        compiled_pattern(pattern)
    except re2.error as exc:
        reason = exc.args[0].decode() if exc.args and isinstance(exc.args[0], bytes) else str(exc)
        return (
            f"{where}: pattern {pattern!r} is not supported ({reason}); patterns run on RE2: "
            "no backreferences or lookaround"
        )
    return None


def schema_problems(schema: Any) -> list[str]:
    """Every reason ``schema`` may not be a service's input schema, each naming where it is (a JSON pointer)."""
    if not isinstance(schema, dict):
        return ["/: input_schema must be a JSON Schema object"]
    try:
        size = len(json.dumps(schema))
    except (TypeError, ValueError):
        return ["/: input_schema must be plain JSON"]
    if size > MAX_SCHEMA_BYTES:
        return [f"/: input_schema is {size} bytes encoded, the limit is {MAX_SCHEMA_BYTES}"]
    problems: list[str] = []
    defs = schema.get("$defs") if isinstance(schema.get("$defs"), dict) else {}
    refs: dict[str, set[str]] = {}
    count = _walk(schema, "", 0, problems, defs, refs, owner=None)
    if count > MAX_SUBSCHEMAS:
        problems.append(f"/: {count} subschemas, the limit is {MAX_SUBSCHEMAS}")
    cycle = _ref_cycle(refs)
    if cycle:
        problems.append(f"/$defs: recursive references ({' -> '.join(cycle)}) are not allowed")
    elif not problems:
        expanded = expanded_size(schema)
        if expanded > MAX_EXPANDED_SUBSCHEMAS:
            problems.append(
                f"/: {expanded} subschemas once every $ref is followed, the limit is {MAX_EXPANDED_SUBSCHEMAS}"
            )
    if not problems:
        try:
            Draft202012Validator.check_schema(schema)
        except SchemaError as exc:
            where = "/" + "/".join(str(p) for p in exc.absolute_path)
            problems.append(f"{where}: not a valid JSON Schema: {exc.message}")
    return problems


def _walk(
    node: Any, where: str, depth: int, problems: list[str], defs: Mapping[str, Any], refs: dict[str, set[str]],
    *, owner: str | None,
) -> int:  # fmt: skip
    """Checks one subschema and those under it; answers how many subschemas it holds (itself included)."""
    if isinstance(node, bool):
        return 1
    if not isinstance(node, dict):
        problems.append(f"{where or '/'}: a subschema must be an object or a boolean")
        return 1
    if depth > MAX_SCHEMA_DEPTH:
        problems.append(f"{where or '/'}: subschemas nest deeper than {MAX_SCHEMA_DEPTH}")
        return 1
    count = 1
    for keyword, value in node.items():
        at = f"{where}/{keyword}"
        if keyword not in SAFE_KEYWORDS:
            reason = REFUSED_BECAUSE.get(keyword, "not in the allowed keywords")
            problems.append(f"{at}: keyword {keyword!r} is not allowed ({reason})")
        elif keyword == "$defs" and depth > 0:
            problems.append(f"{at}: $defs only at the top level")
        elif keyword == "$schema" and value != DRAFT_2020_12:
            problems.append(f"{at}: only {DRAFT_2020_12} is supported")
        elif keyword == "$ref":
            _ref_check(value, at, problems, defs, refs, owner)
        elif keyword == "pattern":
            problem = _pattern_problem(value, at)
            if problem:
                problems.append(problem)
        elif keyword == "format" and (not isinstance(value, str) or value not in ANNOTATION_FORMATS):
            problems.append(f"{at}: format {value!r} is not one of {', '.join(sorted(ANNOTATION_FORMATS))}")
        elif keyword in SCHEMA_KEYWORDS:
            count += _walk(value, at, depth + 1, problems, defs, refs, owner=owner)
        elif keyword in SCHEMA_LIST_KEYWORDS and isinstance(value, list):
            for index, item in enumerate(value):
                count += _walk(item, f"{at}/{index}", depth + 1, problems, defs, refs, owner=owner)
        elif keyword in SCHEMA_MAP_KEYWORDS and isinstance(value, dict):
            for name, item in value.items():
                item_at = f"{at}/{_pointer_escape(name)}"
                if keyword == "patternProperties":
                    problem = _pattern_problem(name, item_at)
                    if problem:
                        problems.append(problem)
                item_owner = name if keyword == "$defs" else owner
                count += _walk(item, item_at, depth + 1, problems, defs, refs, owner=item_owner)
    return count


def expanded_size(schema: Mapping[str, Any]) -> int:
    """How many subschemas validating one value may visit, each ``$ref`` counted as the definition it
    names (memoised per definition, so this is linear in the schema's size). Call only on a schema
    whose references are known to be acyclic and to name existing ``$defs``."""
    defs = schema.get("$defs") if isinstance(schema.get("$defs"), dict) else {}
    sizes: dict[str, int] = {}

    def definition(name: str) -> int:
        if name not in sizes:
            sizes[name] = size(defs[name])
        return sizes[name]

    def size(node: Any) -> int:
        if not isinstance(node, dict):
            return 1
        total = 1
        for keyword, value in node.items():
            if keyword == "$ref" and isinstance(value, str) and value.startswith(_DEF_REF_PREFIX):
                total += definition(value[len(_DEF_REF_PREFIX) :])
            elif keyword == "$defs":
                continue  # evaluated only where referenced
            elif keyword in SCHEMA_KEYWORDS:
                total += size(value)
            elif keyword in SCHEMA_LIST_KEYWORDS and isinstance(value, list):
                total += sum(size(item) for item in value)
            elif keyword in SCHEMA_MAP_KEYWORDS and isinstance(value, dict):
                total += sum(size(item) for item in value.values())
        return total

    return size(schema)


def _pointer_escape(name: str) -> str:
    return name.replace("~", "~0").replace("/", "~1")


def _ref_check(
    value: Any, where: str, problems: list[str], defs: Mapping[str, Any], refs: dict[str, set[str]], owner: str | None
) -> None:
    if not isinstance(value, str) or not value.startswith(_DEF_REF_PREFIX):
        problems.append(f"{where}: $ref {value!r} is not allowed; only #/$defs/<name> (no remote references)")
        return
    name = value[len(_DEF_REF_PREFIX) :]
    if name not in defs:
        problems.append(f"{where}: $ref {value!r} names no entry of the top-level $defs")
        return
    refs.setdefault(owner or "", set()).add(name)


def _ref_cycle(refs: Mapping[str, set[str]]) -> list[str]:
    """A cycle among $defs references (validation would never end), or [] when there is none."""
    state: dict[str, int] = {}
    path: list[str] = []

    def visit(name: str) -> list[str]:
        state[name] = 1
        path.append(name)
        for target in sorted(refs.get(name, ())):
            if state.get(target) == 1:
                return [*path[path.index(target) :], target]
            if target not in state:
                found = visit(target)
                if found:
                    return found
        path.pop()
        state[name] = 2
        return []

    for name in sorted(refs):
        if name and name not in state:
            found = visit(name)
            if found:
                return found
    return []


# -- evaluation ---------------------------------------------------------------------------------------


def _pattern(validator: Any, pattern: str, instance: Any, schema: Mapping[str, Any]) -> Iterator[ValidationError]:
    if validator.is_type(instance, "string") and compiled_pattern(pattern).search(instance) is None:
        shown = instance if len(instance) <= 80 else f"{instance[:80]}…"
        yield ValidationError(f"{shown!r} does not match {pattern!r}")


def _pattern_properties(
    validator: Any, pattern_properties: Mapping[str, Any], instance: Any, schema: Mapping[str, Any]
) -> Iterator[ValidationError]:
    if not validator.is_type(instance, "object"):
        return
    for pattern, subschema in pattern_properties.items():
        program = compiled_pattern(pattern)
        for name, value in instance.items():
            if program.search(name) is not None:
                yield from validator.descend(value, subschema, path=name, schema_path=pattern)


def _additional_properties(
    validator: Any, additional: Any, instance: Any, schema: Mapping[str, Any]
) -> Iterator[ValidationError]:
    """jsonschema's own joins the patterns and runs them with ``re``: the same rule, matched by RE2."""
    if not validator.is_type(instance, "object"):
        return
    properties = schema.get("properties", {})
    programs = [compiled_pattern(p) for p in schema.get("patternProperties", {})]
    extras = [
        name
        for name in instance
        if name not in properties and not any(program.search(name) is not None for program in programs)
    ]
    if validator.is_type(additional, "object"):
        for extra in extras:
            yield from validator.descend(instance[extra], additional, path=extra)
    elif not additional and extras:
        yield ValidationError(f"additional properties are not allowed ({', '.join(map(repr, sorted(extras)))})")


SafeValidator = validators.extend(
    Draft202012Validator,
    {"pattern": _pattern, "patternProperties": _pattern_properties, "additionalProperties": _additional_properties},
)


@lru_cache(maxsize=4096)
def safe_validator(schema_json: str) -> Any:
    """The validator of a stored schema (its JSON text, the cache key); patterns evaluated by RE2 only."""
    return SafeValidator(json.loads(schema_json))
