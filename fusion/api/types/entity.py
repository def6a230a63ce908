"""The Entity interface and one concrete type per entity kind.

An entity may arrive with its node already read (search, paths, neighbourhoods) or as a bare
(kind, key) reference (co-travel pairs, timeline events); then `label`, `regions` and
`properties` are read through the request's node DataLoader, batched and in the same scope.
"""

from __future__ import annotations

from datetime import datetime

import strawberry
from strawberry.scalars import JSON
from strawberry.types import Info

from fusion.api.enums import EntityKind
from fusion.api.nodes import Node, native_time, regions_in
from queries.model import VOCABULARY, Vocabulary


@strawberry.interface(description="Anything in the graph: a person, phone, vehicle, case, "
                      "parcel, sensor or address.")
class Entity:
    kind: EntityKind = strawberry.field(description="The entity's kind.")
    key: str = strawberry.field(description="Its canonical key (id number, E.164 phone, "
                                "plate, case id, waybill, sensor id, normalized address).")
    node: strawberry.Private[Node | None] = None
    visible_in: strawberry.Private[frozenset[str]] = frozenset()

    async def loaded(self, info: Info) -> Node | None:
        """The node, read through the request's DataLoader when not already known."""
        if self.node is None:
            self.node = await info.context.loaders.node.load(
                (self.kind.value, self.key, self.visible_in))
        return self.node

    @strawberry.field(description="A human-readable name (a person's name; otherwise the key).")
    async def label(self, info: Info) -> str | None:
        node = await self.loaded(info)
        return node.label if node else None

    @strawberry.field(description="Sorted regions whose records produced this entity, "
                      "those in the query's scope only.")
    async def regions(self, info: Info) -> list[str]:
        node = await self.loaded(info)
        return regions_in(node.regions, self.visible_in) if node else []

    @strawberry.field(description="Every other property of the node, by name.")
    async def properties(self, info: Info) -> JSON:
        node = await self.loaded(info)
        return node.properties if node else {}

    async def prop(self, info: Info, name: str) -> object:
        """One raw property of the node (None when absent)."""
        node = await self.loaded(info)
        return node.props.get(name) if node else None

    async def related(self, info: Info, name: str) -> list[Entity]:
        """Visible related entities (queries.entities.RELATED[name]), by key."""
        nodes = await info.context.loaders.related.load((name, self.key, self.visible_in))
        return [entity_of(n, self.visible_in) for n in nodes]


@strawberry.type(description="A person, keyed by national id number.")
class Person(Entity):
    @strawberry.field(description="The person's name as registered.")
    async def name(self, info: Info) -> str | None:
        return await self.prop(info, "name")

    @strawberry.field(description="Phones the person uses.")
    async def phones(self, info: Info) -> list[Phone]:
        return await self.related(info, "person_phones")

    @strawberry.field(description="Vehicles the person owns.")
    async def vehicles(self, info: Info) -> list[Vehicle]:
        return await self.related(info, "person_vehicles")

    @strawberry.field(description="Addresses the person lives at.")
    async def addresses(self, info: Info) -> list[Address]:
        return await self.related(info, "person_addresses")

    @strawberry.field(description="Cases the person is involved in.")
    async def cases(self, info: Info) -> list[Case]:
        return await self.related(info, "person_cases")


@strawberry.type(description="A phone number (E.164).")
class Phone(Entity):
    @strawberry.field(description="People who use this phone.")
    async def users(self, info: Info) -> list[Person]:
        return await self.related(info, "phone_users")

    @strawberry.field(description="Cases naming this phone (without a person).")
    async def cases(self, info: Info) -> list[Case]:
        return await self.related(info, "phone_cases")


@strawberry.type(description="A vehicle, keyed by its plate.")
class Vehicle(Entity):
    @strawberry.field(description="People who own this vehicle.")
    async def owners(self, info: Info) -> list[Person]:
        return await self.related(info, "vehicle_owners")


@strawberry.type(description="A case file.")
class Case(Entity):
    @strawberry.field(description="The case type (fraud, burglary, ...).")
    async def case_type(self, info: Info) -> str | None:
        return await self.prop(info, "case_type")

    @strawberry.field(description="When the case was reported.")
    async def reported_at(self, info: Info) -> datetime | None:
        return native_time(await self.prop(info, "reported_at"))

    @strawberry.field(description="The case summary as filed.")
    async def summary(self, info: Info) -> str | None:
        return await self.prop(info, "summary")

    @strawberry.field(description="People involved in the case.")
    async def people(self, info: Info) -> list[Person]:
        return await self.related(info, "case_people")

    @strawberry.field(description="Phones named in the case without a person.")
    async def phones(self, info: Info) -> list[Phone]:
        return await self.related(info, "case_phones")

    @strawberry.field(description="Where the case occurred.")
    async def addresses(self, info: Info) -> list[Address]:
        return await self.related(info, "case_addresses")


@strawberry.type(description="An express parcel, keyed by waybill number.")
class Parcel(Entity):
    @strawberry.field(description="The carrier that shipped it.")
    async def carrier(self, info: Info) -> str | None:
        return await self.prop(info, "carrier")

    @strawberry.field(description="When it was shipped.")
    async def shipped_at(self, info: Info) -> datetime | None:
        return native_time(await self.prop(info, "shipped_at"))

    @strawberry.field(description="When it was delivered.")
    async def delivered_at(self, info: Info) -> datetime | None:
        return native_time(await self.prop(info, "delivered_at"))

    @strawberry.field(description="Phones that sent it.")
    async def senders(self, info: Info) -> list[Phone]:
        return await self.related(info, "parcel_senders")

    @strawberry.field(description="Phones that received it.")
    async def receivers(self, info: Info) -> list[Phone]:
        return await self.related(info, "parcel_receivers")


@strawberry.type(description="A checkpoint or ANPR sensor.")
class Sensor(Entity):
    @strawberry.field(description="Latitude (WGS 84).")
    async def lat(self, info: Info) -> float | None:
        return await self.prop(info, "lat")

    @strawberry.field(description="Longitude (WGS 84).")
    async def lon(self, info: Info) -> float | None:
        return await self.prop(info, "lon")


@strawberry.type(description="An address (normalized text).")
class Address(Entity):
    @strawberry.field(description="People who live here.")
    async def residents(self, info: Info) -> list[Person]:
        return await self.related(info, "address_residents")

    @strawberry.field(description="Cases that occurred here.")
    async def cases(self, info: Info) -> list[Case]:
        return await self.related(info, "address_cases")


def types_by_kind(types: tuple[type[Entity], ...],
                  vocabulary: Vocabulary = VOCABULARY) -> dict[str, type[Entity]]:
    """Entity kind -> its GraphQL type (named after the kind's label), one for every kind."""
    by_label = {t.__name__: t for t in types}
    missing = [k.label for k in vocabulary.entities if k.label not in by_label]
    if missing:
        raise TypeError(f"no GraphQL type for entity label(s) {', '.join(missing)}")
    return {k.name: by_label[k.label] for k in vocabulary.entities}


ENTITY_TYPES = types_by_kind((Person, Phone, Vehicle, Case, Parcel, Sensor, Address))


def entity_of(node: Node, scope: frozenset[str]) -> Entity:
    """The GraphQL entity of a node read in ``scope``."""
    return ENTITY_TYPES[node.kind](kind=EntityKind(node.kind), key=node.key, node=node,
                                   visible_in=scope)


def entity_ref(kind: str, key: str, scope: frozenset[str]) -> Entity:
    """A GraphQL entity known only by kind and key (its node is loaded on demand)."""
    return ENTITY_TYPES[kind](kind=EntityKind(kind), key=key, node=None, visible_in=scope)
