"""The GraphQL object types of the served schema (every type and field described)."""
