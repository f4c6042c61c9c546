"""A tenant's input schema is code the gateway runs: only the safe subset, patterns on RE2 (linear time)."""

from __future__ import annotations

import json
import time

import pytest

from controlplane.gateway.errors import GatewayError
from controlplane.gateway.inputs import MAX_REPORTED_ERRORS, validate_inputs
from controlplane.routing.models import Service
from controlplane.routing.schemas import (
    MAX_EXPANDED_SUBSCHEMAS,
    MAX_SCHEMA_DEPTH,
    SAFE_KEYWORDS,
    expanded_size,
    schema_problems,
)
from tests.factories import TenantFactory, unique_slug

EVIL = "^(a+)+$"


def _string(**rules: object) -> dict:
    return {"type": "object", "properties": {"s": {"type": "string", **rules}}}


def test_an_ordinary_schema_is_accepted() -> None:
    schema = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "type": "object",
        "properties": {
            "amount": {"type": "number", "minimum": 0},
            "country": {"type": "string", "pattern": "^[a-z]{2}$", "format": "date"},
            "tags": {"type": "array", "items": {"$ref": "#/$defs/tag"}, "maxItems": 10},
        },
        "patternProperties": {"^x-": {"type": "string"}},
        "required": ["amount"],
        "additionalProperties": False,
        "$defs": {"tag": {"type": "string", "enum": ["a", "b"]}},
    }
    assert schema_problems(schema) == []


@pytest.mark.parametrize(
    ("schema", "where", "says"),
    [
        (_string(pattern="(a)\\1"), "/properties/s/pattern", "RE2"),
        (_string(pattern="(?=a)b"), "/properties/s/pattern", "lookaround"),
        ({"patternProperties": {"(?<!x)y": {}}}, "/patternProperties/(?<!x)y", "RE2"),
        ({"type": "array", "uniqueItems": True}, "/uniqueItems", "quadratic"),
        ({"properties": {"a": {"unevaluatedProperties": False}}}, "/properties/a/unevaluatedProperties", "not allowed"),
        ({"$ref": "https://evil.example/schema.json"}, "/$ref", "no remote references"),
        ({"$ref": "#/$defs/missing", "$defs": {}}, "/$ref", "names no entry"),
        ({"$defs": {"a": {"$ref": "#/$defs/b"}, "b": {"$ref": "#/$defs/a"}}}, "/$defs", "recursive"),
        ({"$id": "https://x/y"}, "/$id", "not allowed"),
        (_string(format="regex"), "/properties/s/format", "format 'regex'"),
        ({"type": "object", "x-custom": 1}, "/x-custom", "not in the allowed keywords"),
        (_string(pattern="a" * 1001), "/properties/s/pattern", "the limit is 1000"),
        (_string(format=["date"]), "/properties/s/format", "is not one of"),
        (_string(pattern=5), "/properties/s/pattern", "must be a string"),
        ({"properties": {"a": 5}}, "/properties/a", "must be an object or a boolean"),
    ],
)
def test_each_refused_keyword_is_named_with_where_it_is(schema: dict, where: str, says: str) -> None:
    problems = schema_problems(schema)
    assert any(p.startswith(f"{where}:") and says in p for p in problems), problems


def test_size_and_nesting_are_bounded() -> None:
    deep: dict = {"type": "string"}
    for _ in range(MAX_SCHEMA_DEPTH + 2):
        deep = {"items": deep}
    assert any("nest deeper" in p for p in schema_problems(deep))
    huge = {"properties": {f"p{i}": {"description": "x" * 100} for i in range(1000)}}
    assert any("bytes encoded" in p for p in schema_problems(huge))
    wide = {"anyOf": [{"type": "string"} for _ in range(600)]}
    assert any("subschemas" in p for p in schema_problems(wide))


def test_the_keyword_list_is_the_one_place_and_holds_no_costly_keyword() -> None:
    assert not {"uniqueItems", "unevaluatedProperties", "unevaluatedItems", "$dynamicRef", "$id"} & SAFE_KEYWORDS


def _timed_validation(schema: dict, inputs: dict) -> tuple[float, GatewayError | None]:
    started = time.perf_counter()
    try:
        validate_inputs(inputs, json.dumps(schema, sort_keys=True))
        error = None
    except GatewayError as exc:
        error = exc
    return time.perf_counter() - started, error


@pytest.mark.parametrize(
    ("schema", "inputs"),
    [
        (_string(pattern=EVIL), {"s": "a" * 100_000 + "!"}),
        (
            {"type": "object", "patternProperties": {EVIL: {"type": "number"}}},
            {"a" * 50_000 + "!": 1, "a" * 50_000: "x"},
        ),
        (
            {"type": "object", "patternProperties": {EVIL: {}}, "additionalProperties": False},
            {"a" * 50_000 + "!": 1},
        ),
        ({"type": "object", "propertyNames": {"pattern": EVIL}}, {"a" * 50_000 + "!": 1}),
    ],
)
def test_a_catastrophic_pattern_is_evaluated_in_linear_time(schema: dict, inputs: dict) -> None:
    """With Python's ``re`` (jsonschema's own) 30 characters already take seconds; RE2 answers at once."""
    assert schema_problems(schema) == []
    elapsed, error = _timed_validation(schema, inputs)
    assert elapsed < 0.5, f"{elapsed:.3f}s"
    assert error is not None and error.status == 400


def _doubling_chain(links: int) -> dict:
    """Tiny as written, 2^links subschemas when evaluated: each definition refers twice to the next."""
    defs = {f"d{i}": {"allOf": [{"$ref": f"#/$defs/d{i + 1}"}, {"$ref": f"#/$defs/d{i + 1}"}]} for i in range(links)}
    defs[f"d{links}"] = {"type": "integer"}
    return {"type": "object", "$defs": defs, "properties": {"x": {"$ref": "#/$defs/d0"}}}


def test_references_that_multiply_are_counted_as_evaluated_and_refused() -> None:
    bomb = _doubling_chain(40)
    assert len(json.dumps(bomb)) < 8_000 and expanded_size(bomb) > 2**40

    [problem] = schema_problems(bomb)
    assert problem.startswith("/: ") and f"the limit is {MAX_EXPANDED_SUBSCHEMAS}" in problem
    assert schema_problems(_doubling_chain(5)) == []  # 2^5 is fine: shared definitions are allowed


def test_a_long_array_of_wrong_items_reports_a_bounded_list_quickly() -> None:
    schema = {"type": "object", "properties": {"xs": {"type": "array", "items": {"type": "string"}}}}
    elapsed, error = _timed_validation(schema, {"xs": [0] * 200_000})
    assert error is not None and len(error.body()["detail"]["inputs"]) == MAX_REPORTED_ERRORS
    assert elapsed < 0.5, f"{elapsed:.3f}s"


def test_a_pattern_still_validates() -> None:
    schema = _string(pattern="^[a-z]+$")
    assert _timed_validation(schema, {"s": "abc"})[1] is None
    _, error = _timed_validation(schema, {"s": "ABC"})
    assert error is not None and error.body()["detail"]["inputs"][0]["path"] == "s"


@pytest.mark.django_db
def test_the_api_refuses_an_unsafe_schema_on_create_and_on_update(client_for) -> None:  # noqa: ANN001
    tenant = TenantFactory()
    client = client_for(tenant)
    url = f"/api/v1/tenants/{tenant.slug}/services"
    unsafe = {"type": "object", "properties": {"s": {"type": "string", "pattern": "(x)\\1"}}, "uniqueItems": True}

    created = client.post(url, {"slug": "svc", "name": "Svc", "input_schema": unsafe}, format="json")

    assert created.status_code == 400 and created.json()["error"] == "invalid"
    problems = created.json()["detail"]["input_schema"]
    assert any(p.startswith("/properties/s/pattern:") for p in problems)
    assert any(p.startswith("/uniqueItems:") for p in problems)
    assert not Service.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_a_patch_to_an_unsafe_schema_is_400_and_changes_nothing(client_for) -> None:  # noqa: ANN001
    tenant = TenantFactory()
    client = client_for(tenant)
    slug = unique_slug("svc")
    url = f"/api/v1/tenants/{tenant.slug}/services"
    created = client.post(url, {"slug": slug, "name": "S", "input_schema": _string(pattern=EVIL)}, format="json")
    assert created.status_code == 201, created.json()

    patched = client.patch(f"{url}/{slug}", {"input_schema": _string(pattern="(?=a)")}, format="json")

    assert patched.status_code == 400 and "/properties/s/pattern" in str(patched.json()["detail"])
    assert Service.objects.get(slug=slug).input_schema == _string(pattern=EVIL)
