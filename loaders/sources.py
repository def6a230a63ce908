"""The five sources by name."""

from __future__ import annotations

from loaders import calls, cases, persons, sightings, waybills
from loaders.spec import Source

SOURCES: dict[str, Source] = {
    s.name: s for s in (persons.SOURCE, cases.SOURCE, calls.SOURCE, waybills.SOURCE,
                        sightings.SOURCE)
}


def source_for(name: str) -> Source:
    """The source named ``name``; KeyError names the known ones."""
    try:
        return SOURCES[name]
    except KeyError:
        raise KeyError(f"unknown source {name!r}; expected one of {', '.join(SOURCES)}") from None
