"""Strict JSON everywhere: NaN/Infinity and deep nesting are 400s that say so, a body too large a 413."""

from __future__ import annotations

import pytest

from controlplane.gateway.errors import GatewayError
from controlplane.gateway.inputs import parse_predict_body
from controlplane.jsonlimits import MAX_JSON_DEPTH, JSONRefused, json_loads_strict
from tests.factories import TenantFactory


@pytest.mark.parametrize("text", ['{"x": NaN}', '{"x": Infinity}', '{"x": -Infinity}', '{"x": 1e999}', "[-1e400]"])
def test_non_finite_numbers_are_refused_and_the_message_says_so(text: str) -> None:
    with pytest.raises(JSONRefused, match="NaN, Infinity and -Infinity are not JSON"):
        json_loads_strict(text)


def test_nesting_is_bounded_even_far_past_the_recursion_limit() -> None:
    assert json_loads_strict("[" * MAX_JSON_DEPTH + "]" * MAX_JSON_DEPTH) is not None
    for depth in (MAX_JSON_DEPTH + 1, 100_000):
        with pytest.raises(JSONRefused, match="nest more than"):
            json_loads_strict("[" * depth + "]" * depth)
    with pytest.raises(JSONRefused, match="nest more than"):
        json_loads_strict('{"a":' * 40 + "1" + "}" * 40)


def test_ordinary_json_is_unchanged() -> None:
    assert json_loads_strict(b'{"a": [1, 2.5, -3e2, null, true, "x"]}') == {"a": [1, 2.5, -300.0, None, True, "x"]}


@pytest.mark.parametrize(
    ("body", "says"),
    [
        (b'{"inputs": {"x": NaN}}', "NaN"),
        (b'{"inputs": {"x": 1e999}}', "Infinity"),
        (b'{"inputs": ' + b'{"a": ' * 50 + b"1" + b"}" * 50 + b"}", "nest more than"),
        (b"[" * 200_000 + b"]" * 200_000, "nest more than"),
    ],
)
def test_the_predict_body_is_strict(body: bytes, says: str) -> None:
    with pytest.raises(GatewayError) as refused:
        parse_predict_body(body)
    assert (refused.value.status, refused.value.code) == (400, "invalid_json")
    assert says in refused.value.detail


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("raw", "says"),
    [
        ('{"slug": "s", "name": "n", "input_schema": {"maximum": NaN}}', "NaN"),
        ('{"slug": "s", "name": "n", "input_schema": {"maximum": Infinity}}', "Infinity"),
        ('{"slug": "s", "name": "n", "input_schema": ' + '{"not": ' * 40 + "{}" + "}" * 40 + "}", "nest more than"),
    ],
)
def test_the_api_refuses_non_finite_numbers_and_deep_nesting(client_for, raw: str, says: str) -> None:  # noqa: ANN001
    tenant = TenantFactory()
    response = client_for(tenant).post(
        f"/api/v1/tenants/{tenant.slug}/services", data=raw, content_type="application/json"
    )
    assert response.status_code == 400 and response.json()["error"] == "invalid", response.json()
    assert says in response.json()["detail"]


@pytest.mark.django_db
def test_the_api_refuses_a_json_body_over_its_limit(client_for, settings) -> None:  # noqa: ANN001
    settings.RDV_API_JSON_MAX_BYTES = 1000
    tenant = TenantFactory()
    raw = '{"slug": "s", "name": "' + "n" * 2000 + '", "input_schema": {}}'
    response = client_for(tenant).post(
        f"/api/v1/tenants/{tenant.slug}/services", data=raw, content_type="application/json"
    )
    assert response.status_code == 413 and response.json()["error"] == "too_large"


