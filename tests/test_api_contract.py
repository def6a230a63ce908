"""The served schema against the contract: every operation of operations.graphql validates
against the schema as a client sees it (introspection over HTTP) and ships as a saved query;
every type, field, argument and enum value is described."""

from __future__ import annotations

from pathlib import Path

import pytest
from graphql import (
    GraphQLEnumType,
    GraphQLInputObjectType,
    GraphQLInterfaceType,
    GraphQLObjectType,
    OperationDefinitionNode,
    build_client_schema,
    get_introspection_query,
    parse,
    print_ast,
    validate,
)

from fusion.api.schema import build_schema
from fusion.config import Settings

pytest_plugins = ["tests.api_support"]

CONTRACT = Path(__file__).resolve().parents[2] / "shared" / "contract" / "operations.graphql"
SAVED = Path(__file__).resolve().parents[1] / "queries" / "saved"
OPERATIONS = [d for d in parse(CONTRACT.read_text()).definitions
              if isinstance(d, OperationDefinitionNode)]


@pytest.fixture(scope="module")
def served_schema(api):
    """The schema as the running service describes itself."""
    data = api.gql(get_introspection_query(descriptions=True), purpose=None)
    return build_client_schema(data)


@pytest.mark.neo4j
def test_every_contract_operation_validates_against_the_served_schema(served_schema):
    document = parse(CONTRACT.read_text())
    assert validate(served_schema, document) == []
    assert len(OPERATIONS) == 16


@pytest.mark.neo4j
def test_introspection_describes_the_contract_types(served_schema):
    kinds = served_schema.get_type("EntityKind")
    assert set(kinds.values) == {"PERSON", "PHONE", "VEHICLE", "CASE", "PARCEL", "SENSOR",
                                 "ADDRESS"}
    assert set(served_schema.get_type("RelType").values) == {
        "INVOLVED_IN", "USES", "OWNS", "LIVES_AT", "OCCURRED_AT", "CALLED", "SENT", "RECEIVED",
        "FROM_ADDRESS", "TO_ADDRESS", "SEEN_AT", "CO_TRAVELED"}
    assert set(served_schema.get_type("CommunityAlgorithm").values) == {"LEIDEN", "LOUVAIN"}
    assert set(served_schema.get_type("EntityRef").fields) == {"kind", "key"}
    assert set(served_schema.get_type("ScopeInput").fields) == {"regions", "jointOperation"}
    assert set(served_schema.get_type("LinkWeightsInput").fields) == {"case", "call", "parcel",
                                                                      "cotravel"}
    for scalar in ("DateTime", "JSON"):
        assert served_schema.get_type(scalar).description


@pytest.mark.parametrize("operation", OPERATIONS, ids=lambda op: op.name.value)
def test_every_contract_operation_ships_as_a_saved_query(operation):
    path = SAVED / f"{operation.name.value}.graphql"
    shipped = [d for d in parse(path.read_text()).definitions
               if isinstance(d, OperationDefinitionNode)]
    assert [print_ast(d) for d in shipped] == [print_ast(operation)]


def test_at_least_five_saved_queries_for_operations_units():
    contract = {op.name.value for op in OPERATIONS}
    own = {p.stem for p in SAVED.glob("*.graphql")} - contract
    assert len(own) >= 5, own


def test_every_schema_element_is_described():
    schema = build_schema(Settings())._schema
    missing = []
    for name, t in schema.type_map.items():
        if name.startswith("__") or name in ("String", "Int", "Float", "Boolean", "ID"):
            continue
        if not t.description:
            missing.append(name)
        if isinstance(t, (GraphQLObjectType, GraphQLInterfaceType, GraphQLInputObjectType)):
            for fname, field in t.fields.items():
                if not field.description:
                    missing.append(f"{name}.{fname}")
                for aname, arg in getattr(field, "args", {}).items():
                    if not arg.description:
                        missing.append(f"{name}.{fname}({aname})")
        if isinstance(t, GraphQLEnumType):
            missing += [f"{name}.{v}" for v, value in t.values.items() if not value.description]
    assert missing == []
