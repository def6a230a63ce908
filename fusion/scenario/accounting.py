"""The truth file's bookkeeping: per-file accounting and the distinct node keys that load.

Computed from the canonical records as they are written, by the rules the loaders follow:
a bad row is quarantined; a good row whose natural key was loaded before (in load order) is a
duplicate; anything else is loaded, and contributes its canonical keys to the graph.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import polars as pl

from fusion.scenario.faults import Fault
from queries.model import VOCABULARY, Vocabulary

NodeSources = dict[str, tuple[tuple[str, str, str | None], ...]]


def node_sources(vocabulary: Vocabulary) -> NodeSources:
    """Node label -> (source, canonical column, filter on subject_type) of loaded rows."""
    return {k.label: tuple((s.name, f.column, f.subject_type) for s in vocabulary.sources
                           for f in s.nodes if f.label == k.label)
            for k in vocabulary.entities}


NODE_SOURCES = node_sources(VOCABULARY)


@dataclass
class FileAccount:
    """The expected outcome of loading one file."""

    kind: str
    region: str
    file: str
    profile: str | None
    read: int = 0
    loaded: int = 0
    duplicates: int = 0
    by_reason: Counter = field(default_factory=Counter)

    def add(self, rows: pl.DataFrame, faults: list[Fault]) -> None:
        """Account one written chunk: good rows (``_dup`` flagged) and the bad rows' faults."""
        dups = int(rows["_dup"].sum())
        self.read += len(rows) + len(faults)
        self.duplicates += dups
        self.loaded += len(rows) - dups
        self.by_reason.update(reason for reason, _ in faults)

    def as_dict(self) -> dict:
        """The load_order entry of truth.json."""
        return {"kind": self.kind, "region": self.region, "file": self.file,
                "profile": self.profile, "read": self.read, "loaded": self.loaded,
                "duplicates": self.duplicates, "quarantined": sum(self.by_reason.values()),
                "quarantined_by_reason": dict(sorted(self.by_reason.items()))}


class NodeKeys:
    """Distinct canonical keys per node label over all loaded rows (compact, chunked)."""

    def __init__(self) -> None:
        self._parts: dict[str, list[pl.Series]] = {label: [] for label in NODE_SOURCES}

    def add(self, source: str, rows: pl.DataFrame) -> None:
        """Collect the keys of the loaded (non-duplicate) rows of one chunk."""
        loaded = rows.filter(~pl.col("_dup"))
        for label, feeds in NODE_SOURCES.items():
            for feed_source, column, subject_type in feeds:
                if feed_source != source:
                    continue
                part = loaded
                if subject_type is not None:
                    part = loaded.filter(pl.col("subject_type") == subject_type)
                self._append(label, part[column].drop_nulls().unique())

    def _append(self, label: str, keys: pl.Series) -> None:
        parts = self._parts[label]
        parts.append(keys.alias("key"))
        if len(parts) > 32:
            self._parts[label] = [pl.concat(parts).unique()]

    def counts(self) -> dict[str, int]:
        """Number of distinct keys per label."""
        return {label: (pl.concat(parts).n_unique() if parts else 0)
                for label, parts in self._parts.items()}
