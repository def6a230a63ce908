"""Analyses as pure functions over polars frames and networkx graphs: paths, gangs, co-travel.

Nothing here does I/O or imports the Neo4j driver (like networkx's ``algorithms`` package).
"""
