"""`fusion analyze ...` through typer's CliRunner, against the real Neo4j and the scenario.

The commands read their settings from the environment: they are pointed at the session's
Neo4j as an external server, with FUSION_HOME the scenario's event store.
"""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime, timedelta

import pytest
from rich.console import Console
from typer.testing import CliRunner

from fusion.cli import app
from fusion.commands.progress import ProgressBar
from fusion.managed.server import ADMIN_USER, ManagedNeo4j
from fusion.services import cotravel, gangs
from fusion.services.blocking import blocking_calls
from fusion.services.entities import EntityRef
from fusion.services.materialize import materialize_co_travel
from fusion.services.paths import relationship_paths
from fusion.services.temporal import time_respecting_paths
from tests.analyses_scenario import load_scenario, truth_pairs

pytestmark = pytest.mark.neo4j


@pytest.fixture(scope="module")
def world(scenario_dir, driver, neo4j_settings, tmp_path_factory):
    db = neo4j_settings.neo4j_database
    home = tmp_path_factory.mktemp("cli-home")
    truth = load_scenario(driver, db, scenario_dir, home)
    env = {"FUSION_HOME": str(home),
           "FUSION_NEO4J_URI": f"bolt://127.0.0.1:{neo4j_settings.db_bolt_port}",
           "FUSION_NEO4J_USER": ADMIN_USER,
           "FUSION_NEO4J_PASSWORD": ManagedNeo4j(neo4j_settings).password(),
           "FUSION_NEO4J_DATABASE": db}
    return truth, home, db, env


@pytest.fixture(scope="module")
def call(world, neo4j_settings):
    """Runs a service call over the world's graph and events."""
    with blocking_calls(neo4j_settings, home=world[1]) as run:
        yield run


def fusion(env: dict, *args: str):
    return CliRunner().invoke(app, ["analyze", *args], env=env)


def _count(driver, db) -> int:
    records, _, _ = driver.execute_query("MATCH ()-[r:CO_TRAVELED]->() RETURN count(r) AS n",
                                         database_=db)
    return records[0]["n"]


def test_cotravel_materializes_the_truths_pairs_and_replaces_them(world, driver) -> None:
    truth, _, db, env = world
    first = fusion(env, "cotravel", "--json")
    assert first.exit_code == 0, first.output
    summary = json.loads(first.stdout)
    assert summary["created"] == summary["pairs"] == len(truth_pairs(truth)) == _count(driver, db)
    strict = json.loads(fusion(env, "cotravel", "--min-meetings", "100", "--json").stdout)
    assert (strict["deleted"], strict["created"], _count(driver, db)) == (
        summary["created"], 0, 0)
    again = fusion(env, "cotravel", "--window", "120", "--min-sensors", "3", "--json")
    assert json.loads(again.stdout)["created"] == len(truth_pairs(truth)) == _count(driver, db)


def test_cotravel_in_a_time_range_counts_only_its_sightings(world, call, driver) -> None:
    _, home, db, env = world
    since = datetime.fromisoformat(world[0]["period"]["start_local"]).replace(tzinfo=UTC)
    since += timedelta(days=7)
    until = since + timedelta(days=7)
    out = fusion(env, "cotravel", "--since", since.isoformat(),
                 "--until", until.strftime("%Y-%m-%dT%H:%M:%S"), "--json")
    summary = json.loads(out.stdout)
    want = call(cotravel.co_travel_pairs, scope=None, since=since, until=until, limit=None)
    assert summary["created"] == len(want) == _count(driver, db)
    assert summary["since"] == since.isoformat() and summary["until"] == until.isoformat()
    records, _, _ = driver.execute_query(
        "MATCH ()-[r:CO_TRAVELED]->() RETURN min(r.first_at) AS f, max(r.last_at) AS l",
        database_=db)
    if want:
        assert records[0]["f"].to_native() >= since and records[0]["l"].to_native() <= until
    fusion(env, "cotravel")  # back to the full data for the tests that follow
    assert _count(driver, db) == len(truth_pairs(world[0]))


def test_cotravel_prints_a_summary_line(world) -> None:
    out = fusion(world[3], "cotravel")
    assert out.exit_code == 0 and "CO_TRAVELED:" in out.stdout and "written" in out.stdout


def test_the_progress_bar_shows_each_phase(world, driver) -> None:
    _, home, db, _ = world
    buffer = io.StringIO()
    bar = ProgressBar(Console(file=buffer, force_terminal=True, width=120))
    with bar.progress:
        materialize_co_travel(driver, db, home, progress=bar)
    text = buffer.getvalue()
    for phase in ("Finding co-travelling pairs", "Deleting earlier CO_TRAVELED",
                  "Writing CO_TRAVELED"):
        assert phase in text


def test_gangs_json_is_the_services_answer(world, call, driver) -> None:
    truth, home, db, env = world
    out = fusion(env, "gangs", "--json")
    assert out.exit_code == 0, out.output
    printed = json.loads(out.stdout)
    service = call(gangs.gangs, scope=None)
    assert [g["id"] for g in printed] == [g.id for g in service]
    assert [g["size"] for g in printed] == [g.size for g in service]
    for planted in truth["gangs"]:
        members = set(planted["members"])
        best = max(({m["person"]["key"] for m in g["members"]} for g in printed),
                   key=lambda keys: len(keys & members) / len(keys | members))
        assert len(best & members) / len(best | members) >= 0.8


def test_gangs_with_options_and_one_persons_gang(world, call, driver) -> None:
    truth, home, db, env = world
    region = truth["regions"][0]["code"]
    args = ["--region", region, "--weight", "call=0.5", "--weight", "cotravel=0",
            "--algorithm", "LOUVAIN", "--resolution", "1.5", "--min-size", "4", "--seed", "3"]
    printed = json.loads(fusion(env, "gangs", *args, "--json").stdout)
    service = call(gangs.gangs, scope=frozenset({region}),
                          weights={"call": 0.5, "cotravel": 0}, algorithm="louvain",
                          resolution=1.5, min_size=4, seed=3)
    assert [g["id"] for g in printed] == [g.id for g in service]
    key = truth["gangs"][0]["members"][0]
    (one,) = json.loads(fusion(env, "gangs", "--person", key, "--json").stdout)
    assert key in {m["person"]["key"] for m in one["members"]}
    table = fusion(env, "gangs")
    assert table.exit_code == 0 and "gang(s)" in table.stdout


def test_paths_json_is_the_services_answer(world, call) -> None:
    truth, _, db, env = world
    chain = truth["fraud_chain"]
    a, b = EntityRef("PHONE", chain["victim_phone"]), EntityRef("PHONE", chain["gang_member"])
    b = EntityRef("PERSON", chain["gang_member"])
    out = fusion(env, "paths", f"phone:{a.key}", f"person:{b.key}", "--limit", "2", "--json")
    assert out.exit_code == 0, out.output
    service = call(relationship_paths, a, b, limit=2, scope=None)
    assert service
    assert [[n["key"] for n in p["nodes"]] for p in json.loads(out.stdout)] == [
        [n.key for n in p.nodes] for p in service]
    table = fusion(env, "paths", f"phone:{a.key}", f"person:{b.key}", "--type", "called",
                   "--type", "uses", "--all-shortest")
    assert table.exit_code == 0 and "path(s)" in table.stdout


def test_time_paths_json_is_the_services_answer(world, call) -> None:
    truth, home, db, env = world
    chain = truth["fraud_chain"]
    a, b = EntityRef("PHONE", chain["victim_phone"]), EntityRef("PHONE", chain["mule_phone"])
    out = fusion(env, "time-paths", f"phone:{a.key}", f"phone:{b.key}", "--max-gap", "1d",
                 "--json")
    assert out.exit_code == 0, out.output
    service = call(time_respecting_paths, a, b, scope=None, max_gap=timedelta(days=1))
    printed = json.loads(out.stdout)
    assert service and [p["arrival"] for p in printed] == [p.arrival.isoformat()
                                                           for p in service]
    assert [[h["type"] for h in p["hops"]] for p in printed] == [
        [h.type for h in p.hops] for p in service]
    seconds = fusion(env, "time-paths", f"phone:{a.key}", f"phone:{b.key}", "--max-gap",
                     "86400")
    assert seconds.exit_code == 0 and "route(s)" in seconds.stdout


@pytest.mark.parametrize("args", [
    ["paths", "nokind:1", "phone:+8613800000000"],
    ["paths", "phone13800000000", "phone:+8613800000000"],
    ["time-paths", "phone:+8613800000000", "phone:+8613800000001", "--max-gap", "soon"],
    ["gangs", "--weight", "call"],
    ["gangs", "--algorithm", "girvan"],
    ["cotravel", "--since", "yesterday"],
    ["cotravel", "--window", "-5"],
])
def test_bad_arguments_exit_2_with_a_message(world, args) -> None:
    out = fusion(world[3], *args)
    assert out.exit_code == 2
    assert "error (BAD_INPUT)" in out.output


def test_every_analyze_command_has_help(world) -> None:
    for command in ("cotravel", "paths", "time-paths", "gangs"):
        out = fusion(world[3], command, "--help")
        assert out.exit_code == 0 and "Usage" in out.output
