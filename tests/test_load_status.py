"""A load's reported status: `loaded` for a new file, `reloaded` for one already loaded, and
`resumed` only when an interrupted load of that very file left something behind."""

from __future__ import annotations

from pathlib import Path

import pytest

from loaders.eventstore import EventStore
from loaders.ingest import load_files

pytestmark = pytest.mark.neo4j


def _calls(path: Path, caller: int) -> Path:
    path.write_text("caller,callee,start_time,duration_s,call_type\n"
                    f"{caller},13900000001,2024-03-01 10:00:00,30,voice\n"
                    f"{caller},13900000002,2024-03-01 11:00:00,40,sms\n")
    return path


def _load(driver, settings, home: Path, path: Path, region: str = "330100"):
    return load_files(driver, settings.neo4j_database, home, "calls", [path], region).loads[0]


def test_first_loads_of_a_kind_are_loaded(empty_graph, neo4j_settings, tmp_path):
    home = tmp_path / "home"
    first = _load(empty_graph, neo4j_settings, home, _calls(tmp_path / "a.csv", 13800000001))
    second = _load(empty_graph, neo4j_settings, home, _calls(tmp_path / "b.csv", 13800000002))
    third = _load(empty_graph, neo4j_settings, home, _calls(tmp_path / "b.csv", 13800000002),
                  region="440300")
    assert [x.status for x in (first, second, third)] == ["loaded"] * 3
    assert first.as_dict()["status"] == "loaded"


def test_the_same_file_again_is_reloaded(empty_graph, neo4j_settings, tmp_path):
    home = tmp_path / "home"
    path = _calls(tmp_path / "a.csv", 13800000001)
    assert _load(empty_graph, neo4j_settings, home, path).status == "loaded"
    assert _load(empty_graph, neo4j_settings, home, path).status == "reloaded"


def test_leftovers_of_an_interrupted_load_make_it_resumed(empty_graph, neo4j_settings, tmp_path):
    home = tmp_path / "home"
    path = _calls(tmp_path / "a.csv", 13800000001)
    done = _load(empty_graph, neo4j_settings, home, path)
    store = EventStore(home)
    # As a crash after staging leaves it: parts written, no manifest, no LoadRecord.
    (store.dir("calls", "loads") / f"{done.load_id}.json").unlink()
    empty_graph.execute_query("MATCH (n) DETACH DELETE n", database_=neo4j_settings.neo4j_database)
    assert next(store.dir("calls", "parts").glob(f"{done.load_id}.*"), None) is not None
    again = _load(empty_graph, neo4j_settings, home, path)
    assert again.status == "resumed"
    assert again.accounting.loaded == done.accounting.loaded
