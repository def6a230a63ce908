"""The analyses as the service runs them: Cypher from ``queries`` over the driver, records from
the event store, pure algorithms from ``algorithms`` over frames and graphs. Every function
takes the caller's scope (a set of regions, or None for an unrestricted administrative run) and
applies it inside what it reads (see docs/analyses.md).

- :mod:`fusion.services.paths`: relationship paths, connecting network;
- :mod:`fusion.services.temporal`: time-respecting paths (events from :mod:`.contacts`);
- :mod:`fusion.services.gangs`: gangs and a person's gang (evidence from :mod:`.gang_evidence`);
- :mod:`fusion.services.cotravel`: co-travel pairs, evidence, groups;
- :mod:`fusion.services.materialize`: ``fusion analyze cotravel`` (``CO_TRAVELED``);
- :mod:`fusion.services.aggregates`: relationship aggregates recounted over a scope's events.
"""
