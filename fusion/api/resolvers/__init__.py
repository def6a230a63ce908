"""Resolvers of the root fields, one module per area; each takes the caller's scope first."""
