"""Fusion: intelligence-fusion graph analysis over a real Neo4j.

Packages, and the one direction their dependencies point:
``fusion`` (service: config, Neo4j, CLI, GraphQL) -> ``queries`` (Cypher) ,
``algorithms`` (pure analyses), ``loaders`` (source files -> normalized records).
"""

__version__ = "0.1.0"
