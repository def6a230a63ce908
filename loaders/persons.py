"""`persons`: the base registry. One row links a person to a phone, a plate, an address."""

from __future__ import annotations

import polars as pl

from loaders import columns as c
from loaders.normalize import normalize_address, normalize_id_no, normalize_plate
from loaders.spec import Column, GraphRows, Source, simple

S = pl.String()


def graph(r: pl.DataFrame) -> GraphRows:
    """Person, Phone, Vehicle, Address; USES, OWNS, LIVES_AT."""
    g = GraphRows()
    g.node("Person", r.select(key="id_no", name="name", region="region"))
    g.node("Phone", r.select(key="phone", region="region"))
    g.node("Vehicle", r.select(key="plate", region="region"))
    g.node("Address", r.select(key="address", region="region"))
    g.rel(("Person", "USES", "Phone"), r.select(a="id_no", b="phone", region="region"))
    g.rel(("Person", "OWNS", "Vehicle"), r.select(a="id_no", b="plate", region="region"))
    g.rel(("Person", "LIVES_AT", "Address"), r.select(a="id_no", b="address", region="region"))
    return g


SOURCE = Source(
    name="persons",
    columns=(
        Column("id_no", simple(lambda s: c.by_distinct(s, normalize_id_no)), S, required=True),
        Column("name", simple(c.text), S, required=True),
        Column("phone", c.profile_phone, S),
        Column("plate", simple(lambda s: c.by_distinct(s, normalize_plate)), S),
        Column("address", simple(lambda s: c.by_distinct(s, normalize_address)), S),
    ),
    key=("id_no", "name", "phone", "plate", "address"),
    graph=graph,
)
