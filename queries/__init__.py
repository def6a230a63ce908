"""Cypher statements (UPPER_SNAKE constants and ``.cypher`` files) and saved GraphQL queries.

Nothing here runs a query: the service and the loaders pass these statements to the driver
with parameters. No Cypher is ever built from data.
"""
