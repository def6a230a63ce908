"""`waybills`: express parcels between sender and receiver phones and addresses."""

from __future__ import annotations

import polars as pl

from loaders import columns as c
from loaders.normalize import normalize_address, normalize_waybill_no
from loaders.spec import Column, GraphRows, Source, simple

S = pl.String()


def _address(s: pl.Series) -> c.Checked:
    return c.by_distinct(s, normalize_address)


def graph(r: pl.DataFrame) -> GraphRows:
    """Parcel, Phone, Address; SENT, RECEIVED, FROM_ADDRESS, TO_ADDRESS."""
    g = GraphRows()
    g.node("Parcel", r.select(
        key="waybill_no", carrier="carrier", item="item",
        declared_value="declared_value", weight_kg="weight_kg", shipped_at="shipped_at",
        delivered_at="delivered_at", sender_name="sender_name", receiver_name="receiver_name",
        region="region"))
    g.node("Phone", pl.concat([r.select(key="sender_phone", region="region"),
                               r.select(key="receiver_phone", region="region")]))
    g.node("Address", pl.concat([
        r.select(key="sender_address", region="region"),
        r.select(key="receiver_address", region="region")]))
    g.rel(("Phone", "SENT", "Parcel"), r.select(a="sender_phone", b="waybill_no", region="region"))
    g.rel(("Phone", "RECEIVED", "Parcel"),
          r.select(a="receiver_phone", b="waybill_no", region="region"))
    g.rel(("Parcel", "FROM_ADDRESS", "Address"),
          r.select(a="waybill_no", b="sender_address", region="region"))
    g.rel(("Parcel", "TO_ADDRESS", "Address"),
          r.select(a="waybill_no", b="receiver_address", region="region"))
    return g


SOURCE = Source(
    name="waybills",
    columns=(
        Column("waybill_no", simple(lambda s: c.by_distinct(s, normalize_waybill_no)), S,
               required=True),
        Column("carrier", simple(c.text), S),
        Column("sender_name", simple(c.text), S),
        Column("receiver_name", simple(c.text), S),
        Column("sender_phone", c.profile_phone, S, required=True),
        Column("receiver_phone", c.profile_phone, S, required=True),
        Column("sender_address", simple(_address), S),
        Column("receiver_address", simple(_address), S),
        Column("shipped_at", c.profile_timestamp, c.UTC_US, required=True),
        Column("delivered_at", c.profile_timestamp, c.UTC_US),
        Column("item", simple(c.text), S),
        Column("declared_value", simple(c.number), pl.Float64()),
        Column("weight_kg", simple(c.number), pl.Float64()),
    ),
    key=("waybill_no",),
    graph=graph,
    time_column="shipped_at",
)
