"""Pool tokens: derived from the server secret, naming their pool, verified in constant time."""

from __future__ import annotations

import pytest

from contracts.pool_tokens import pool_of_token, pool_token, pool_token_verify


def test_a_token_names_its_pool_and_verifies_with_its_secret_only() -> None:
    token = pool_token(secret="s3cret", pool="gpu-1")

    assert token.startswith("rdvpool.gpu-1.") and pool_of_token(token) == "gpu-1"
    assert pool_token_verify(secret="s3cret", token=token) == "gpu-1"
    assert pool_token_verify(secret="other", token=token) is None


def test_claiming_another_pool_with_a_token_fails() -> None:
    mac = pool_token(secret="s3cret", pool="a").rsplit(".", 1)[1]

    assert pool_token_verify(secret="s3cret", token=f"rdvpool.b.{mac}") is None


@pytest.mark.parametrize("token", ["", "dev-runner-token", "rdv_abc_def", "rdvpool.Bad Pool.00", "rdvpool.a.b.c"])
def test_other_strings_are_not_pool_tokens(token: str) -> None:
    assert pool_of_token(token) is None
    assert pool_token_verify(secret="s3cret", token=token) is None


def test_pools_must_be_slugs() -> None:
    with pytest.raises(ValueError, match="slug"):
        pool_token(secret="s", pool="a.b")
