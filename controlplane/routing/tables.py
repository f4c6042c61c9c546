"""Routing tables as plain data: resolving rows to versions, and the tables promote and rollback produce.

A table is a list of rows in the API's shape (``deployments_list``): ``{model, version, role, weight,
rank, pool, last_resort}``. The functions that only reshape rows are pure, so their rules are tested
without a database.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from contracts.config import DEFAULT_POOL
from contracts.roles import ANSWERING_ROLES, ROLES
from controlplane.errors import InvalidInput
from controlplane.registry.models import Model, ModelVersion
from controlplane.routing.models import Service

Row = dict[str, Any]
ROW_FIELDS = ("model", "version", "role", "weight", "rank", "pool", "last_resort")


@dataclass(frozen=True)
class ResolvedRow:
    version: ModelVersion
    role: str
    weight: int
    rank: int
    pool: str
    last_resort: bool


def rows_resolve(*, service: Service, deployments: Sequence[Row]) -> list[ResolvedRow]:
    """Turn the request's rows into versions; every problem is reported at once, keyed by row index."""
    problems: dict[str, dict[str, str]] = {}
    rows: list[ResolvedRow] = []
    seen: set[tuple[str, int]] = set()
    models = {m.slug: m for m in Model.objects.filter(tenant=service.tenant)}
    for index, item in enumerate(deployments):
        problem: dict[str, str] = {}
        model = models.get(item.get("model"))
        number = item.get("version")
        version = None
        role = item.get("role")
        weight = item.get("weight", 100)
        rank = item.get("rank", 0)
        if model is None:
            problem["model"] = f"unknown model {item.get('model')!r} in tenant {service.tenant.slug!r}"
        else:
            version = model.versions.filter(number=number).first() if isinstance(number, int) else None
            if version is None:
                problem["version"] = f"model {model.slug!r} has no version {number!r}"
            elif (model.slug, number) in seen:
                problem["version"] = f"{model.slug} v{number} appears more than once"
            else:
                seen.add((model.slug, number))
        if role not in ROLES:
            problem["role"] = f"choose one of {', '.join(ROLES)}"
        if not isinstance(weight, int) or weight < 0 or (role == "champion" and weight <= 0):
            problem["weight"] = "champions need a weight above 0; weights are non-negative integers"
        if not isinstance(rank, int):
            problem["rank"] = "must be an integer"
        last_resort = item.get("last_resort", False)
        if not isinstance(last_resort, bool) or (last_resort and role != "canary"):
            problem["last_resort"] = "true or false, and only a canary can be the last resort"
        if problem or version is None:
            problems[str(index)] = problem
            continue
        rows.append(
            ResolvedRow(
                version=version,
                role=role,
                weight=weight,
                rank=rank,
                pool=item.get("pool") or DEFAULT_POOL,
                last_resort=last_resort,
            )
        )
    if problems:
        raise InvalidInput({"deployments": problems})
    roles = {row.role for row in rows}
    if roles & ANSWERING_ROLES and "champion" not in roles:
        raise InvalidInput({"deployments": "a routing table with answering roles needs at least one champion"})
    return rows


def table_promoted(*, table: Sequence[Row], model: str, version: int) -> list[Row]:
    """Blue-green: ``model`` v``version`` becomes the only champion (weight 100).

    The previous champions become fallbacks ranked 1..n, heaviest first, so the one that carried most
    traffic is tried first; existing fallbacks keep their order after them. Every other row is kept,
    except the promoted version's own previous row (its pool carries over to the champion row).
    """
    key = (model, version)
    own = next((row for row in table if (row["model"], row["version"]) == key), None)
    rest = [row for row in table if (row["model"], row["version"]) != key]
    champions = sorted((r for r in rest if r["role"] == "champion"), key=lambda r: -r["weight"])
    fallbacks = sorted((r for r in rest if r["role"] == "fallback"), key=lambda r: r["rank"])
    others = [row for row in rest if row["role"] not in ("champion", "fallback")]
    champion = {
        "model": model,
        "version": version,
        "role": "champion",
        "weight": 100,
        "rank": 0,
        "pool": own["pool"] if own else DEFAULT_POOL,
        "last_resort": False,
    }
    demoted = [{**row, "role": "fallback", "rank": rank, "last_resort": False} for rank, row in enumerate(champions, 1)]
    kept = [{**row, "rank": rank} for rank, row in enumerate(fallbacks, len(demoted) + 1)]
    return [champion, *demoted, *kept, *others]


def table_from_snapshot(*, snapshot: dict[str, Any]) -> list[Row]:
    """The routing rows of a stored ServiceConfig snapshot (older snapshots lack ``last_resort``)."""
    return [
        {
            "model": item["model"],
            "version": item["version"],
            "role": item["role"],
            "weight": item.get("weight", 100),
            "rank": item.get("rank", 0),
            "pool": item.get("pool") or DEFAULT_POOL,
            "last_resort": bool(item.get("last_resort", False)),
        }
        for item in snapshot.get("deployments", [])
    ]


def tables_equal(left: Sequence[Row], right: Sequence[Row]) -> bool:
    """Same rows regardless of order: the order of a table carries no meaning, roles and ranks do."""

    def canonical(table: Sequence[Row]) -> list[str]:
        return sorted(json.dumps({name: row.get(name) for name in ROW_FIELDS}, sort_keys=True) for row in table)

    return canonical(left) == canonical(right)
