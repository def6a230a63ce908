"""Answers kept by event-store version: the same question over the same store is computed once,
and a load committed (or discarded) since makes it be computed again."""

from __future__ import annotations

import os
import time
from pathlib import Path

from fusion.services.storecache import StoreCache


def _commit(home: Path, load_id: str) -> None:
    loads = home / "events" / "sightings" / "loads"
    loads.mkdir(parents=True, exist_ok=True)
    (loads / f"{load_id}.json").write_text("{}")


def _counting():
    calls = []

    def compute() -> list[int]:
        calls.append(1)
        return [len(calls)]

    return calls, compute


def test_the_same_question_over_the_same_store_is_computed_once(tmp_path):
    _commit(tmp_path, "a")
    cache, (calls, compute) = StoreCache(), _counting()
    first = cache.answer(tmp_path, "sightings", ("pairs", 1), compute)
    second = cache.answer(tmp_path, "sightings", ("pairs", 1), compute)
    assert first == second == [1] and len(calls) == 1
    second.append(99)   # a caller's list is its own
    assert cache.answer(tmp_path, "sightings", ("pairs", 1), compute) == [1]


def test_other_arguments_are_another_answer(tmp_path):
    cache, (calls, compute) = StoreCache(), _counting()
    cache.answer(tmp_path, "sightings", ("pairs", frozenset({"R1"})), compute)
    cache.answer(tmp_path, "sightings", ("pairs", frozenset({"R2"})), compute)
    assert len(calls) == 2


def test_a_new_load_makes_the_answer_be_computed_again(tmp_path):
    _commit(tmp_path, "a")
    cache, (_, compute) = StoreCache(), _counting()
    cache.answer(tmp_path, "sightings", "q", compute)
    _commit(tmp_path, "b")
    assert cache.answer(tmp_path, "sightings", "q", compute) == [2]


def test_a_discarded_load_makes_the_answer_be_computed_again(tmp_path):
    _commit(tmp_path, "a")
    _commit(tmp_path, "b")
    cache, (_, compute) = StoreCache(), _counting()
    cache.answer(tmp_path, "sightings", "q", compute)
    os.unlink(tmp_path / "events" / "sightings" / "loads" / "b.json")
    assert cache.answer(tmp_path, "sightings", "q", compute) == [2]


def test_a_load_replaced_under_the_same_id_is_seen_by_the_directory_time(tmp_path):
    _commit(tmp_path, "a")
    cache, (_, compute) = StoreCache(), _counting()
    cache.answer(tmp_path, "sightings", "q", compute)
    loads = tmp_path / "events" / "sightings" / "loads"
    os.unlink(loads / "a.json")
    _commit(tmp_path, "a")
    later = time.time_ns() + 10**9
    os.utime(loads, ns=(later, later))
    assert cache.answer(tmp_path, "sightings", "q", compute) == [2]


def test_the_cache_keeps_at_most_its_size(tmp_path):
    cache, (calls, compute) = StoreCache(size=2), _counting()
    for key in ("a", "b", "c"):
        cache.answer(tmp_path, "sightings", key, compute)
    assert len(cache) == 2
    cache.answer(tmp_path, "sightings", "a", compute)
    assert len(calls) == 4
