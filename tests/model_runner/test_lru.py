"""The eviction policy alone: least recently used first, pinned versions stay, stop once it fits."""

from __future__ import annotations

from model_runner.lru import Resident, evictions


def test_nothing_is_evicted_within_the_budget() -> None:
    residents = [Resident("a", 300, 1.0), Resident("b", 300, 2.0)]

    assert evictions(residents, budget_bytes=600) == []


def test_least_recently_used_go_first_and_only_as_many_as_needed() -> None:
    residents = [Resident("new", 100, 9.0), Resident("old", 100, 1.0), Resident("mid", 100, 5.0)]

    assert evictions(residents, budget_bytes=200) == ["old"]
    assert evictions(residents, budget_bytes=100) == ["old", "mid"]


def test_pinned_versions_stay_even_when_they_alone_exceed_the_budget() -> None:
    residents = [
        Resident("champion", 500, 0.0, pinned=True),
        Resident("challenger", 50, 3.0),
        Resident("just-loaded", 50, 4.0, pinned=True),
    ]

    assert evictions(residents, budget_bytes=100) == ["challenger"]


def test_one_large_old_version_can_free_room_for_many_small_ones() -> None:
    residents = [Resident("big", 1000, 1.0), *(Resident(f"s{i}", 10, 2.0 + i) for i in range(10))]

    assert evictions(residents, budget_bytes=200) == ["big"]
