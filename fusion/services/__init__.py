"""The analyses as the service runs them: Cypher from ``queries`` over the driver, records from
the event store, pure algorithms from ``algorithms`` over frames and graphs. Every function
takes the caller's scope (a set of regions, or None for an unrestricted administrative run) and
applies it inside what it reads (see docs/analyses.md).

The graph services are coroutines taking a :class:`~fusion.services.runtime.Runtime` first
(the GraphQL service awaits them; the CLI, benchmarks and tests run them through
:mod:`fusion.services.blocking`); they check their arguments once (:mod:`.arguments`), run
Cypher through :mod:`.cypher` and return the models of :mod:`.models`.

- :mod:`fusion.services.paths`: relationship paths, connecting network;
- :mod:`fusion.services.temporal`: time-respecting paths (events from :mod:`.contacts`);
- :mod:`fusion.services.neighbourhood`: bounded breadth-first expansion around an entity;
- :mod:`fusion.services.timeline`: an entity's events in time order;
- :mod:`fusion.services.entities`: full-text search with exact key matches first;
- :mod:`fusion.services.gangs`: gangs and a person's gang (evidence from :mod:`.gang_evidence`);
- :mod:`fusion.services.cotravel`: co-travel pairs, evidence, groups;
- :mod:`fusion.services.materialize`: ``fusion analyze cotravel`` (``CO_TRAVELED``);
- :mod:`fusion.services.aggregates`: relationship aggregates recounted over a scope's events.
"""
