"""The three analyses as the service runs them: Cypher from ``queries`` over the driver,
pure algorithms from ``algorithms`` over frames and graphs. Every function takes the caller's
scope (a set of regions, or None for an unrestricted administrative run)."""
