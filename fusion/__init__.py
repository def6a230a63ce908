"""Fusion: intelligence-fusion graph analysis over a real Neo4j.

Its floors, each importing only from those below (pyproject.toml's import contracts):
``fusion.cli``/``fusion.commands`` -> ``fusion.api`` -> ``fusion.auth`` -> ``fusion.services``
(and ``fusion.scenario``, ``fusion.db``) -> ``loaders`` (ingest) -> ``queries`` (vocabulary,
Cypher), ``algorithms`` (pure analyses), ``fusion.config``/``errors``/``progress``.
"""

__version__ = "0.1.0"
