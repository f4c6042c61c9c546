"""The registry's format choices are the contract's formats: one list, however it is spelled."""

from __future__ import annotations

from contracts.formats import ALL_FORMATS, CODE_FORMATS, SAFE_FORMATS
from controlplane.registry.models import ModelVersion


def test_the_model_field_offers_exactly_the_contract_formats() -> None:
    assert set(ModelVersion.Format.values) == set(ALL_FORMATS) == SAFE_FORMATS | CODE_FORMATS
    assert not SAFE_FORMATS & CODE_FORMATS
