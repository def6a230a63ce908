"""`cases`: one row per (case, person involved); the person is an ID number or only a phone."""

from __future__ import annotations

import polars as pl

from loaders import columns as c
from loaders.normalize import (
    normalize_address,
    normalize_case_id,
    normalize_id_no,
)
from loaders.spec import Column, GraphRows, Source, simple

S = pl.String()
ROLES = ("suspect", "victim", "witness", "reporter")


def derive(r: pl.DataFrame) -> pl.DataFrame:
    """The involved party's key: the ID number when given, else the phone."""
    return r.with_columns(person=pl.coalesce("id_no", "phone"))


def graph(r: pl.DataFrame) -> GraphRows:
    """Case, Person, Phone, Address; INVOLVED_IN, USES, OCCURRED_AT."""
    g = GraphRows()
    g.node("Case", r.select(
        key="case_id", case_type="case_type", reported_at="reported_at", summary="summary",
        lat="lat", lon="lon", region="region",
        label=pl.concat_str("case_id", pl.lit(" ("), "case_type", pl.lit(")"))))
    g.node("Person", r.select(key="id_no", fallback_name="name", region="region"))
    g.node("Phone", r.select(key="phone", region="region"))
    g.node("Address", r.select(key="location", region="region"))
    by_id = r.filter(pl.col("id_no").is_not_null())
    by_phone = r.filter(pl.col("id_no").is_null())
    g.rel(("Person", "INVOLVED_IN", "Case"),
          by_id.select(a="id_no", b="case_id", role="role", region="region"))
    g.rel(("Phone", "INVOLVED_IN", "Case"),
          by_phone.select(a="phone", b="case_id", role="role", region="region"))
    g.rel(("Person", "USES", "Phone"), r.select(a="id_no", b="phone", region="region"))
    g.rel(("Case", "OCCURRED_AT", "Address"), r.select(a="case_id", b="location", region="region"))
    return g


SOURCE = Source(
    name="cases",
    columns=(
        Column("case_id", simple(lambda s: c.by_distinct(s, normalize_case_id)), S, required=True),
        Column("case_type", simple(c.text), S, required=True),
        Column("reported_at", c.profile_timestamp, c.UTC_US, required=True),
        Column("id_no", simple(lambda s: c.by_distinct(s, normalize_id_no)), S, unless="phone"),
        Column("name", simple(c.text), S),
        Column("phone", c.profile_phone, S, unless="id_no"),
        Column("role", simple(c.one_of(ROLES)), S, required=True),
        Column("location", simple(lambda s: c.by_distinct(s, normalize_address)), S),
        Column("lat", simple(c.coordinate(90)), pl.Float64()),
        Column("lon", simple(c.coordinate(180)), pl.Float64()),
        Column("summary", simple(c.text), S),
    ),
    key=("case_id", "person"),
    graph=graph,
    derive=derive,
    derived={"person": S},
    time_column="reported_at",
)
