"""docs/extending.md walked with a toy kind: everything derived from the vocabulary picks it up.

A toy entity kind (DRONE), a toy relationship (FLEW_OVER) and a toy source (flights) are
declared into a copy of ``queries.model.VOCABULARY``; each derived table is then built from
that copy, the way the tree builds its own from the real one. The last tests hold the parts
that cannot be derived (loader modules, GraphQL types, the scenario's layouts) to the model.
"""

from __future__ import annotations

from enum import Enum

import polars as pl
import pytest
import strawberry

from fusion.api.enums import entity_kind_enum, rel_type_enum
from fusion.api.types.entity import ENTITY_TYPES, Entity, types_by_kind
from fusion.scenario import records
from fusion.scenario.accounting import node_sources
from loaders import eventstore, profile
from loaders.normalize import canonical_key, kind_normalizers, normalize_sensor_id
from loaders.sources import LOADED, SOURCES, sources_by_name
from loaders.spec import Column, GraphRows, Source
from queries import model
from queries.load import (
    aggregate_properties,
    create_node,
    node_properties,
    relationship_properties,
    upsert_node,
)
from queries.model import VOCABULARY, EntityKind, Feed, RelType, SourceKind
from queries.schema import entity_constraints, search_index

DRONE = EntityKind("DRONE", "Drone", "drone_id", "normalize_sensor_id",
                   "A drone, keyed by its registration.", properties=("model",),
                   times=("registered_at",))
FLEW_OVER = RelType("FLEW_OVER", "Drone -> address it flew over.", (("Drone", "Address"),),
                    properties=("altitude_m",))
FLIGHTS = SourceKind("flights", ("drone_id", "model", "address", "flown_at"),
                     key=("drone_id", "flown_at"),
                     nodes=(Feed("Drone", "drone_id"), Feed("Address", "address")),
                     relationships=(("Drone", "FLEW_OVER", "Address"),), time_column="flown_at")
TOY = VOCABULARY.with_entity(DRONE).with_relationship(FLEW_OVER).with_source(FLIGHTS)


def _toy_source() -> Source:
    """A loader module's Source for ``flights``, as a new loaders/flights.py would build it."""
    text = pl.String()
    return Source(name="flights",
                  columns=tuple(Column(name, lambda s, _f, _p: s, text)
                                for name in FLIGHTS.columns),
                  key=FLIGHTS.key, graph=lambda _frame: GraphRows(), time_column="flown_at")


# -- 1. the vocabulary ----------------------------------------------------------------------------
def test_a_declaration_that_names_an_undeclared_label_is_refused():
    stray = RelType("OWNS_DRONE", "Person -> drone.", (("Person", "Drone"),))
    with pytest.raises(ValueError, match="OWNS_DRONE joins undeclared label Drone"):
        VOCABULARY.with_relationship(stray)


def test_a_source_that_writes_an_undeclared_relationship_is_refused():
    with pytest.raises(ValueError, match="flights writes undeclared"):
        VOCABULARY.with_entity(DRONE).with_source(FLIGHTS)


def test_a_kind_declared_twice_is_refused():
    with pytest.raises(ValueError, match="entity kind PERSON declared twice"):
        VOCABULARY.with_entity(EntityKind("PERSON", "Human", "id_no", "normalize_id_no", "x"))


# -- 2. constraints and the full-text index -------------------------------------------------------
def test_the_toy_kind_gets_a_key_constraint():
    assert entity_constraints(TOY)["drone_key"] == (
        "CREATE CONSTRAINT drone_key IF NOT EXISTS FOR (n:Drone) REQUIRE n.key IS UNIQUE")
    assert set(entity_constraints(TOY)) - set(entity_constraints(VOCABULARY)) == {"drone_key"}


def test_the_toy_label_is_searchable():
    assert "FOR (n:Person|Phone|Vehicle|Case|Parcel|Sensor|Address|Drone) " in search_index(TOY)
    assert "Drone" not in search_index(VOCABULARY)


# -- 3. the loaders' property tables and statements -----------------------------------------------
def test_the_toy_kind_and_relationship_get_loader_property_tables():
    assert node_properties(TOY)["Drone"] == (("model",), ("registered_at",))
    assert relationship_properties(TOY)[("Drone", "FLEW_OVER", "Address")] == ("altitude_m",)
    assert aggregate_properties(TOY) == aggregate_properties(VOCABULARY)


def test_the_toy_kind_gets_upsert_and_create_statements_for_its_properties():
    spec = node_properties(TOY)["Drone"]
    upsert, create = upsert_node("Drone", spec), create_node("Drone", spec)
    assert "MERGE (n:Drone {key: $key[i]})" in upsert
    assert "n.model = coalesce($model[i], n.model)" in upsert
    assert "datetime.fromepoch($registered_at_s[i], $registered_at_ns[i])" in upsert
    assert "CREATE (n:Drone {key: $key[i]})" in create and "n.model = $model[i]" in create


def test_an_analysis_relationship_gets_no_loader_statement():
    assert not any(t[1] == "CO_TRAVELED" for t in relationship_properties(VOCABULARY))
    assert not any(t[1] == "CO_TRAVELED" for t in aggregate_properties(VOCABULARY))


# -- 4. GraphQL enums -----------------------------------------------------------------------------
def _sdl(enum: type[Enum]) -> str:
    """The SDL of a schema whose one field has the type ``enum``."""
    @strawberry.type
    class Query:
        pick: str | None = strawberry.field(graphql_type=enum | None, default=None)

    return strawberry.Schema(query=Query).as_str()


def test_the_toy_kind_is_a_graphql_entity_kind_with_its_description():
    sdl = _sdl(entity_kind_enum(TOY))
    assert '"""A drone, keyed by its registration."""\n  DRONE' in sdl


def test_the_toy_relationship_is_a_graphql_rel_type_with_its_description():
    sdl = _sdl(rel_type_enum(TOY))
    assert '"""Drone -> address it flew over."""\n  FLEW_OVER' in sdl


# -- 5. normalizers -------------------------------------------------------------------------------
def test_the_toy_kind_uses_the_normalizer_it_names():
    assert kind_normalizers(TOY)["DRONE"] is normalize_sensor_id


def test_a_normalizer_that_does_not_exist_is_named_in_the_error():
    odd = VOCABULARY.with_entity(EntityKind("KITE", "Kite", "kite_id", "normalize_kite", "x"))
    with pytest.raises(LookupError, match="normalize_kite"):
        kind_normalizers(odd)


def test_canonical_key_normalizes_every_declared_kind():
    assert canonical_key("VEHICLE", "浙d·12345") == "浙D12345"
    assert set(kind_normalizers(VOCABULARY)) == set(model.KIND_LABELS)


# -- 6. GraphQL types -----------------------------------------------------------------------------
def test_a_kind_without_a_graphql_type_fails_at_start():
    with pytest.raises(TypeError, match="no GraphQL type for entity label.*Drone"):
        types_by_kind(tuple(ENTITY_TYPES.values()), TOY)


def test_a_graphql_type_named_after_the_label_serves_the_toy_kind():
    @strawberry.type(description="A drone.")
    class Drone(Entity):
        pass

    assert types_by_kind((*ENTITY_TYPES.values(), Drone), TOY)["DRONE"] is Drone


# -- 7. sources and the scenario's accounting -----------------------------------------------------
def test_a_declared_source_without_a_loader_module_fails_at_start():
    with pytest.raises(TypeError, match="flights: no loader module"):
        sources_by_name(LOADED, TOY)


def test_a_registered_loader_module_joins_the_sources_in_declared_order():
    by_name = sources_by_name((*LOADED, _toy_source()), TOY)
    assert list(by_name) == [*model.SOURCE_KINDS, "flights"]


def test_a_loader_module_whose_columns_differ_from_the_declaration_is_refused():
    wrong = _toy_source()
    wrong = Source(name="flights", columns=wrong.columns[:2], key=wrong.key, graph=wrong.graph,
                   time_column="flown_at")
    with pytest.raises(TypeError, match="flights: columns"):
        sources_by_name((*LOADED, wrong), TOY)


def test_the_scenario_accounts_for_the_toy_source_feeds():
    sources = node_sources(TOY)
    assert sources["Drone"] == (("flights", "drone_id", None),)
    assert sources["Address"][-1] == ("flights", "address", None)
    assert sources["Address"][:-1] == node_sources(VOCABULARY)["Address"]


# -- 8. what is not derived is held to the model --------------------------------------------------
def test_source_kind_lists_are_the_vocabulary_s():
    assert eventstore.KINDS == profile.KINDS == model.SOURCE_KINDS == tuple(SOURCES)


def test_each_loader_writes_only_what_its_declaration_says():
    for declared in VOCABULARY.sources:
        source = SOURCES[declared.name]
        aggregated = {t for a in source.aggregates for t in a.triples}
        assert aggregated <= set(declared.relationships), declared.name


def test_the_scenario_layouts_carry_the_declared_columns():
    for declared in VOCABULARY.sources:
        assert tuple(records.COLUMNS[declared.name]) == declared.columns, declared.name
        assert records.TIME_COLUMN[declared.name] == declared.time_column


def test_sighting_subjects_are_declared_entity_kinds():
    assert model.SUBJECT_LABELS == {"plate": "Vehicle", "phone": "Phone"}
    assert {model.KIND_LABELS[k] for k in model.SUBJECT_TYPES} <= set(model.LABEL_KINDS)
