"""The ingest pipeline: source files -> normalized, validated records -> the event store and the
graph.

``ingest`` runs a command (stage every file, then write each load's graph, then commit);
``pipeline`` stages one file (``readers`` -> ``prepare`` with ``columns``' checkers ->
``dedup`` -> ``quarantine`` and ``eventstore`` parts); ``graphwriter`` sends the graph rows to
Neo4j. One module per source kind (``persons``, ``cases``, ``calls``, ``waybills``,
``sightings``) declares its columns, key and graph (``spec``); ``sources`` names them.
``normalize`` holds the contract's identifier rules, shared by every loader and by the
scenario generator.
"""
