"""The contract's vocabulary, declared once: entity kinds, relationships, subjects, sources.

Like followthemoney's schema, this is data that the rest of the tree derives from:
constraints and the full-text index (``queries.schema``), the loaders' property tables and
Cypher (``queries.load``), the identifier normalizers (``loaders.normalize``), the source
tables (``loaders``, ``fusion.scenario``) and the GraphQL enums (``fusion.api.enums``).
Adding a kind is one entry here plus the code only that kind can supply (a normalizer, a
loader module, a GraphQL type); docs/extending.md walks the checklist.

Every declaration keeps the order the contract lists it in, because derived tables, GraphQL
enums and Cypher statements follow it.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

Triple = tuple[str, str, str]


@dataclass(frozen=True)
class EntityKind:
    """A node kind: its GraphQL name, Neo4j label, canonical key and loaded properties.

    Every node keeps its canonical identifier in the property ``key`` (the contract's
    ``Person(key = id_no)``); ``natural_key`` names the input column it comes from and
    ``normalizer`` the function of ``loaders.normalize`` that makes it canonical.
    ``properties`` and ``times`` are what the loaders write besides ``key`` and ``regions``.
    """

    name: str
    label: str
    natural_key: str
    normalizer: str
    description: str
    properties: tuple[str, ...] = ()
    times: tuple[str, ...] = ()

    @property
    def constraint(self) -> str:
        """Name of the uniqueness constraint on ``key``."""
        return f"{self.label.lower()}_key"


@dataclass(frozen=True)
class RelType:
    """A relationship type, the label pairs it joins and the properties the loaders set.

    ``aggregate`` relationships summarize every event of a pair (absolute values, never
    increments); ``loaded`` is false for relationships an analysis writes (CO_TRAVELED);
    ``in_paths`` says whether relationship paths traverse it unless asked otherwise.
    """

    name: str
    description: str
    ends: tuple[tuple[str, str], ...]
    properties: tuple[str, ...] = ()
    times: tuple[str, ...] = ()
    aggregate: bool = False
    loaded: bool = True
    in_paths: bool = True

    @property
    def triples(self) -> tuple[Triple, ...]:
        """Each (from label, type, to label) of this type."""
        return tuple((a, self.name, b) for a, b in self.ends)


@dataclass(frozen=True)
class SubjectType:
    """A sighting's subject: the entity kind and the ``subject_type`` value naming it."""

    kind: str
    subject_type: str


@dataclass(frozen=True)
class Feed:
    """A source column that yields node keys of a label (only rows of ``subject_type``)."""

    label: str
    column: str
    subject_type: str | None = None


@dataclass(frozen=True)
class SourceKind:
    """An input source: its canonical columns, natural key, time column, what it writes."""

    name: str
    columns: tuple[str, ...]
    key: tuple[str, ...]
    nodes: tuple[Feed, ...]
    relationships: tuple[Triple, ...]
    time_column: str | None = None


@dataclass(frozen=True)
class Vocabulary:
    """The whole vocabulary; the tree uses :data:`VOCABULARY`, tests extend copies of it."""

    entities: tuple[EntityKind, ...]
    relationships: tuple[RelType, ...]
    subjects: tuple[SubjectType, ...]
    sources: tuple[SourceKind, ...]
    search_fields: tuple[str, ...] = ("key",)

    def __post_init__(self) -> None:
        problems = self.problems()
        if problems:
            raise ValueError("inconsistent vocabulary: " + "; ".join(problems))

    def problems(self) -> list[str]:
        """What refers to something undeclared (or is declared twice)."""
        labels = [k.label for k in self.entities]
        found = _twice("entity kind", [k.name for k in self.entities]) + _twice("label", labels)
        found += _twice("relationship type", [r.name for r in self.relationships])
        found += [f"{r.name} joins undeclared label {x}" for r in self.relationships
                  for end in r.ends for x in end if x not in labels]
        found += [f"subject {s.subject_type} names undeclared kind {s.kind}"
                  for s in self.subjects if s.kind not in {k.name for k in self.entities}]
        return found + [p for s in self.sources for p in self._source_problems(s)]

    def _source_problems(self, source: SourceKind) -> list[str]:
        """What ``source`` refers to that is not declared."""
        triples = {t for r in self.relationships for t in r.triples}
        labels = {k.label for k in self.entities}
        found = [f"{source.name} writes undeclared {t}" for t in source.relationships
                 if t not in triples]
        found += [f"{source.name} feeds undeclared label {f.label} or column {f.column}"
                  for f in source.nodes if f.label not in labels or f.column not in source.columns]
        if source.time_column is not None and source.time_column not in source.columns:
            found.append(f"{source.name} has no time column {source.time_column}")
        return found

    def with_entity(self, kind: EntityKind) -> Vocabulary:
        """A copy with one more entity kind."""
        return replace(self, entities=(*self.entities, kind))

    def with_source(self, source: SourceKind) -> Vocabulary:
        """A copy with one more source kind."""
        return replace(self, sources=(*self.sources, source))

    def with_relationship(self, rel: RelType) -> Vocabulary:
        """A copy with one more relationship type."""
        return replace(self, relationships=(*self.relationships, rel))

    def kind_labels(self) -> dict[str, str]:
        """Entity kind -> Neo4j label."""
        return {k.name: k.label for k in self.entities}


def _twice(what: str, names: list[str]) -> list[str]:
    """One problem for each name declared more than once."""
    return [f"{what} {n} declared twice" for n in sorted({n for n in names if names.count(n) > 1})]


_PERSON_CASE = (("Person", "Case"), ("Phone", "Case"))
_SUBJECTS_SENSOR = (("Vehicle", "Sensor"), ("Phone", "Sensor"))
_EVENT_TIMES = ("first_at", "last_at")

ENTITIES = (
    EntityKind("PERSON", "Person", "id_no", "normalize_id_no",
               "A person, keyed by national id number.", properties=("name",)),
    EntityKind("PHONE", "Phone", "phone", "normalize_phone", "A phone number, keyed in E.164."),
    EntityKind("VEHICLE", "Vehicle", "plate", "normalize_plate",
               "A vehicle, keyed by its plate."),
    EntityKind("CASE", "Case", "case_id", "normalize_case_id", "A case file, keyed by case id.",
               properties=("case_type", "summary", "lat", "lon", "label"),
               times=("reported_at",)),
    EntityKind("PARCEL", "Parcel", "waybill_no", "normalize_waybill_no",
               "An express parcel, keyed by waybill.",
               properties=("carrier", "item", "declared_value", "weight_kg", "sender_name",
                           "receiver_name"), times=("shipped_at", "delivered_at")),
    EntityKind("SENSOR", "Sensor", "sensor_id", "normalize_sensor_id",
               "A checkpoint/ANPR sensor, by id.", properties=("lat", "lon")),
    EntityKind("ADDRESS", "Address", "address", "normalize_address",
               "An address, by normalized text."),
)

# A co-travel pair's figures as CO_TRAVELED carries them: the contract's (meetings, distinct
# sensors), the significance against independent travel and what analysts read beside it (the
# expected meetings, days with a meeting, the start node's median lead in seconds, each
# subject's sightings in the period).
CO_TRAVELED_FIGURES = ("meetings", "distinct_sensors", "significance", "expected_meetings",
                       "distinct_days", "lead_s", "a_reads", "b_reads")

RELATIONSHIPS = (
    RelType("INVOLVED_IN", "Person or phone -> case (with a role).", _PERSON_CASE,
            properties=("role",)),
    RelType("USES", "Person -> phone.", (("Person", "Phone"),)),
    RelType("OWNS", "Person -> vehicle.", (("Person", "Vehicle"),)),
    RelType("LIVES_AT", "Person -> address.", (("Person", "Address"),)),
    RelType("OCCURRED_AT", "Case -> address.", (("Case", "Address"),)),
    RelType("CALLED", "Phone -> phone, one per ordered pair, with call aggregates.",
            (("Phone", "Phone"),), properties=("count", "total_duration_s"), times=_EVENT_TIMES,
            aggregate=True),
    RelType("SENT", "Phone -> parcel (sender).", (("Phone", "Parcel"),)),
    RelType("RECEIVED", "Phone -> parcel (receiver).", (("Phone", "Parcel"),)),
    RelType("FROM_ADDRESS", "Parcel -> sender address.", (("Parcel", "Address"),)),
    RelType("TO_ADDRESS", "Parcel -> receiver address.", (("Parcel", "Address"),)),
    RelType("SEEN_AT", "Vehicle or phone -> sensor, with sighting aggregates.", _SUBJECTS_SENSOR,
            properties=("count",), times=_EVENT_TIMES, aggregate=True, in_paths=False),
    RelType("CO_TRAVELED", "Vehicle or phone -- vehicle or phone (co-travel analysis).",
            (("Vehicle", "Vehicle"), ("Vehicle", "Phone"), ("Phone", "Vehicle"),
             ("Phone", "Phone")), properties=CO_TRAVELED_FIGURES,
            times=("first_at", "last_at"), loaded=False),
)

# Sightings name their subject by ``subject_type``: a plate (VEHICLE) or a phone (PHONE).
SUBJECTS = (SubjectType("VEHICLE", "plate"), SubjectType("PHONE", "phone"))

SOURCES = (
    SourceKind("persons", ("id_no", "name", "phone", "plate", "address"),
               key=("id_no", "name", "phone", "plate", "address"),
               nodes=(Feed("Person", "id_no"), Feed("Phone", "phone"), Feed("Vehicle", "plate"),
                      Feed("Address", "address")),
               relationships=(("Person", "USES", "Phone"), ("Person", "OWNS", "Vehicle"),
                              ("Person", "LIVES_AT", "Address"))),
    SourceKind("cases", ("case_id", "case_type", "reported_at", "id_no", "name", "phone", "role",
                         "location", "lat", "lon", "summary"),
               key=("case_id", "person"),
               nodes=(Feed("Case", "case_id"), Feed("Person", "id_no"), Feed("Phone", "phone"),
                      Feed("Address", "location")),
               relationships=(("Person", "INVOLVED_IN", "Case"), ("Phone", "INVOLVED_IN", "Case"),
                              ("Person", "USES", "Phone"), ("Case", "OCCURRED_AT", "Address")),
               time_column="reported_at"),
    SourceKind("calls", ("caller", "callee", "start_time", "duration_s", "call_type", "cell_id",
                         "imei"),
               key=("caller", "callee", "start_time", "call_type"),
               nodes=(Feed("Phone", "caller"), Feed("Phone", "callee")),
               relationships=(("Phone", "CALLED", "Phone"),), time_column="start_time"),
    SourceKind("waybills", ("waybill_no", "carrier", "sender_name", "receiver_name",
                            "sender_phone", "receiver_phone", "sender_address",
                            "receiver_address", "shipped_at", "delivered_at", "item",
                            "declared_value", "weight_kg"),
               key=("waybill_no",),
               nodes=(Feed("Parcel", "waybill_no"), Feed("Phone", "sender_phone"),
                      Feed("Phone", "receiver_phone"), Feed("Address", "sender_address"),
                      Feed("Address", "receiver_address")),
               relationships=(("Phone", "SENT", "Parcel"), ("Phone", "RECEIVED", "Parcel"),
                              ("Parcel", "FROM_ADDRESS", "Address"),
                              ("Parcel", "TO_ADDRESS", "Address")),
               time_column="shipped_at"),
    SourceKind("sightings", ("subject_type", "subject", "sensor_id", "seen_at", "lat", "lon",
                             "speed_kmh", "direction"),
               key=("subject_type", "subject", "sensor_id", "seen_at"),
               nodes=(Feed("Vehicle", "subject", "plate"), Feed("Phone", "subject", "phone"),
                      Feed("Sensor", "sensor_id")), relationships=(
                   ("Vehicle", "SEEN_AT", "Sensor"), ("Phone", "SEEN_AT", "Sensor")),
               time_column="seen_at"),
)

VOCABULARY = Vocabulary(ENTITIES, RELATIONSHIPS, SUBJECTS, SOURCES,
                        search_fields=("key", "name", "label", "summary", "case_type"))

# -- derived tables, for readers that need only a lookup ----------------------------------------
KIND_LABELS = VOCABULARY.kind_labels()
LABEL_KINDS = {label: kind for kind, label in KIND_LABELS.items()}
REL_TYPES = tuple(r.name for r in RELATIONSHIPS)
# Paths traverse every type but SEEN_AT unless asked otherwise (contract: relationship paths).
DEFAULT_PATH_TYPES = tuple(r.name for r in RELATIONSHIPS if r.in_paths)
SUBJECT_TYPES = {s.kind: s.subject_type for s in SUBJECTS}
SUBJECT_KINDS = {s.subject_type: s.kind for s in SUBJECTS}
SUBJECT_LABELS = {s.subject_type: KIND_LABELS[s.kind] for s in SUBJECTS}
SOURCE_KINDS = tuple(s.name for s in SOURCES)

# -- analysis defaults (contract: co-travel, relationship paths, gangs) --------------------------
CO_TRAVEL_WINDOW_S = 120  # seconds between two sightings at one sensor that make a meeting
CO_TRAVEL_MIN_MEETINGS = 3
CO_TRAVEL_MIN_SENSORS = 3  # distinct sensors among a pair's meetings
CO_TRAVEL_MIN_GROUP_SIZE = 3
# Fewest -log10 p (against independent travel) of a reported pair; 0 keeps every pair.
CO_TRAVEL_MIN_SIGNIFICANCE = 0.0
PATH_MAX_HOPS = 6
PATH_LIMIT = 3
GANG_MIN_SIZE = 3

# -- watchlists and standing queries (docs/alerts.md) ---------------------------------------------
# Entity kinds a watchlist may hold: the ones events name (plates, phones, ID numbers, parcels).
WATCH_KINDS = ("VEHICLE", "PHONE", "PERSON", "PARCEL")
# Standing-query kinds: each has an incremental rule over a load's delta (fusion.services.alerts).
STANDING_KINDS = ("COTRAVEL", "FRAUD_PARCELS")
# Triage states of an alert: new -> confirmed | dismissed.
ALERT_STATES = ("NEW", "CONFIRMED", "DISMISSED")
