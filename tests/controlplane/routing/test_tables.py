"""The tables promote and rollback produce, as plain data."""

from __future__ import annotations

from controlplane.routing.tables import table_from_snapshot, table_promoted, tables_equal


def _row(model: str, version: int, role: str, weight: int = 100, rank: int = 0, **extra: object) -> dict:
    return {
        "model": model,
        "version": version,
        "role": role,
        "weight": weight,
        "rank": rank,
        "pool": "default",
        "last_resort": False,
        **extra,
    }


def test_promoted_version_is_the_only_champion_and_old_champions_fall_back_heaviest_first() -> None:
    table = [
        _row("iris", 1, "champion", weight=10),
        _row("iris", 2, "champion", weight=90),
        _row("iris", 3, "fallback", rank=1),
        _row("iris", 4, "challenger"),
        _row("iris", 5, "canary", weight=5, pool="gpu"),
    ]

    promoted = table_promoted(table=table, model="iris", version=5)

    assert promoted == [
        _row("iris", 5, "champion", pool="gpu"),
        _row("iris", 2, "fallback", weight=90, rank=1),
        _row("iris", 1, "fallback", weight=10, rank=2),
        _row("iris", 3, "fallback", rank=3),
        _row("iris", 4, "challenger"),
    ]


def test_promoting_a_fallback_removes_its_old_row() -> None:
    table = [_row("a", 1, "champion"), _row("b", 1, "fallback", rank=1), _row("c", 1, "fallback", rank=2)]

    promoted = table_promoted(table=table, model="b", version=1)

    assert promoted == [_row("b", 1, "champion"), _row("a", 1, "fallback", rank=1), _row("c", 1, "fallback", rank=2)]


def test_an_empty_table_gets_a_single_champion() -> None:
    assert table_promoted(table=[], model="a", version=3) == [_row("a", 3, "champion")]


def test_snapshot_rows_fill_missing_fields_and_order_does_not_matter() -> None:
    snapshot = {
        "deployments": [
            {
                "model": "a",
                "version": 1,
                "role": "champion",
                "weight": 100,
                "rank": 0,
                "pool": "default",
                "format": "skops",
                "sha256": "x",
            }
        ]
    }

    rows = table_from_snapshot(snapshot=snapshot)

    assert rows == [_row("a", 1, "champion")]
    assert tables_equal(
        [_row("a", 1, "champion"), _row("b", 1, "challenger")], [_row("b", 1, "challenger"), _row("a", 1, "champion")]
    )
    assert not tables_equal([_row("a", 1, "champion")], [_row("a", 1, "champion", weight=50)])
