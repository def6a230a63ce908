"""`sightings`: trajectory points of a plate or a phone at a sensor; SEEN_AT summarizes them."""

from __future__ import annotations

import polars as pl

from loaders import columns as c
from loaders.normalize import normalize_plate, normalize_sensor_id
from loaders.spec import Aggregate, Column, GraphRows, Source, simple
from queries.model import SUBJECT_LABELS

S = pl.String()


def _subject(s: pl.Series, frame: pl.DataFrame, profile) -> c.Checked:
    """A plate or a phone, by the row's subject_type (rows of another type are judged there)."""
    kind = frame["subject_type"].str.to_lowercase()
    plate = c.by_distinct(s.set(kind != "plate", None) if len(s) else s, normalize_plate)
    phone = c.phones(profile.default_country)(s.set(kind != "phone", None) if len(s) else s)
    pick = pl.DataFrame({"k": kind, "pv": plate.value, "pr": plate.reason,
                         "fv": phone.value, "fr": phone.reason}).select(
        v=pl.when(pl.col("k") == "plate").then("pv").otherwise("fv"),
        r=pl.when(pl.col("k") == "plate").then("pr").otherwise("fr"))
    return c.Checked(pick["v"].alias(s.name), pick["r"].alias(s.name))


def graph(r: pl.DataFrame) -> GraphRows:
    """The subject (Vehicle or Phone) and the Sensor; SEEN_AT comes from :func:`summarize`."""
    g = GraphRows()
    for subject_type, label in SUBJECT_LABELS.items():
        g.node(label, r.filter(pl.col("subject_type") == subject_type)
               .select(key="subject", region="region"))
    g.node("Sensor", r.select(key="sensor_id", lat="lat", lon="lon",
                              region="region"))
    return g


def summarize(events: pl.LazyFrame) -> pl.LazyFrame:
    """SEEN_AT per (subject, sensor): count, first_at, last_at, regions."""
    return events.group_by("subject_type", "subject", "sensor_id").agg(
        count=pl.len(),
        first_at=pl.col("seen_at").min(),
        last_at=pl.col("seen_at").max(),
        regions=pl.col("regions").explode().unique().sort(),
    ).select(from_label=pl.col("subject_type").replace_strict(SUBJECT_LABELS),
             type=pl.lit("SEEN_AT"), to_label=pl.lit("Sensor"), a="subject", b="sensor_id",
             count="count", first_at="first_at", last_at="last_at", regions="regions")


SOURCE = Source(
    name="sightings",
    columns=(
        Column("subject_type", simple(c.one_of(tuple(SUBJECT_LABELS))), S, required=True),
        Column("subject", _subject, S, required=True),
        Column("sensor_id", simple(lambda s: c.by_distinct(s, normalize_sensor_id)), S,
               required=True),
        Column("seen_at", c.profile_timestamp, c.UTC_US, required=True),
        Column("lat", simple(c.coordinate(90)), pl.Float64()),
        Column("lon", simple(c.coordinate(180)), pl.Float64()),
        Column("speed_kmh", simple(c.number), pl.Float64()),
        Column("direction", simple(c.number), pl.Float64()),
    ),
    key=("subject_type", "subject", "sensor_id", "seen_at"),
    graph=graph,
    aggregates=(Aggregate(("subject_type", "subject", "sensor_id"), summarize,
                          (("Vehicle", "SEEN_AT", "Sensor"), ("Phone", "SEEN_AT", "Sensor")),
                          start=("subject_type", "subject")),),
    time_column="seen_at",
)
