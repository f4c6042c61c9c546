"""Deployment roles (DESIGN.md §4)."""

from __future__ import annotations

from typing import Literal

Role = Literal["champion", "fallback", "challenger", "canary", "decoy"]
ROLES: tuple[Role, ...] = ("champion", "fallback", "challenger", "canary", "decoy")
# Roles whose score may become the answer; challengers are logged only, decoys never score.
ANSWERING_ROLES: frozenset[str] = frozenset({"champion", "fallback", "canary"})
SCORING_ROLES: frozenset[str] = frozenset({"champion", "fallback", "challenger", "canary"})
