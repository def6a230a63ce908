"""The sources by name, in the vocabulary's order, each checked against its declaration.

A source module (``loaders.persons`` ...) holds the checkers and the graph rules only that
source can supply; its columns, natural key and time column must be the ones
``queries.model`` declares, so the two cannot drift apart silently.
"""

from __future__ import annotations

from loaders import calls, cases, persons, sightings, waybills
from loaders.spec import Source
from queries.model import VOCABULARY, Vocabulary

LOADED = (persons.SOURCE, cases.SOURCE, calls.SOURCE, waybills.SOURCE, sightings.SOURCE)


def _disagreement(source: Source, vocabulary: Vocabulary) -> str | None:
    """How ``source`` differs from its declaration, or None."""
    declared = next((s for s in vocabulary.sources if s.name == source.name), None)
    if declared is None:
        return "not declared in queries.model"
    if tuple(c.name for c in source.columns) != declared.columns:
        return f"columns {[c.name for c in source.columns]}, declared {list(declared.columns)}"
    if source.key != declared.key or source.time_column != declared.time_column:
        return "natural key or time column differs from its declaration"
    return None


def sources_by_name(loaded: tuple[Source, ...], vocabulary: Vocabulary) -> dict[str, Source]:
    """Source kind -> its loader, one for every declared kind, each as declared."""
    problems = [f"{s.name}: {why}" for s in loaded if (why := _disagreement(s, vocabulary))]
    by_name = {s.name: s for s in loaded}
    problems += [f"{s.name}: no loader module" for s in vocabulary.sources
                 if s.name not in by_name]
    if problems:
        raise TypeError("sources disagree with the vocabulary: " + "; ".join(problems))
    return {s.name: by_name[s.name] for s in vocabulary.sources}


SOURCES: dict[str, Source] = sources_by_name(LOADED, VOCABULARY)


def source_for(name: str) -> Source:
    """The source named ``name``; KeyError names the known ones."""
    try:
        return SOURCES[name]
    except KeyError:
        raise KeyError(f"unknown source {name!r}; expected one of {', '.join(SOURCES)}") from None
