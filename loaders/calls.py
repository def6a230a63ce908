"""`calls`: telecom call-detail records; the graph keeps one aggregate CALLED per ordered pair."""

from __future__ import annotations

import polars as pl

from loaders import columns as c
from loaders.spec import Aggregate, Column, GraphRows, Source, simple

S = pl.String()


def derive(r: pl.DataFrame) -> pl.DataFrame:
    """``call_type`` defaults to ``voice`` (it is part of the natural key)."""
    return r.with_columns(call_type=pl.col("call_type").fill_null("voice"))


def graph(r: pl.DataFrame) -> GraphRows:
    """The two Phone nodes; CALLED comes from :func:`summarize`."""
    g = GraphRows()
    g.node("Phone", pl.concat([r.select(key="caller", region="region"),
                               r.select(key="callee", region="region")]))
    return g


def summarize(events: pl.LazyFrame) -> pl.LazyFrame:
    """CALLED per (caller, callee): count, total_duration_s, first_at, last_at, regions."""
    return events.group_by("caller", "callee").agg(
        count=pl.len(),
        total_duration_s=pl.col("duration_s").sum(),
        first_at=pl.col("start_time").min(),
        last_at=pl.col("start_time").max(),
        regions=pl.col("regions").explode().unique().sort(),
    ).select(from_label=pl.lit("Phone"), type=pl.lit("CALLED"), to_label=pl.lit("Phone"),
             a="caller", b="callee", count="count", total_duration_s="total_duration_s",
             first_at="first_at", last_at="last_at", regions="regions")


SOURCE = Source(
    name="calls",
    columns=(
        Column("caller", c.profile_phone, S, required=True),
        Column("callee", c.profile_phone, S, required=True),
        Column("start_time", c.profile_timestamp, c.UTC_US, required=True),
        Column("duration_s", simple(c.count), pl.Int64(), required=True),
        Column("call_type", simple(c.one_of(("voice", "sms"))), S),
        Column("cell_id", simple(c.text), S),
        Column("imei", simple(c.text), S),
    ),
    key=("caller", "callee", "start_time", "call_type"),
    graph=graph,
    derive=derive,
    aggregates=(Aggregate(("caller", "callee"), summarize, (("Phone", "CALLED", "Phone"),),
                          start=("caller",)),),
    time_column="start_time",
)
