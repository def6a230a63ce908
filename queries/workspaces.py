"""Cypher for workspaces, the workbench's saved charts: (:Workspace {id, name, regions,
joint_operation, chart, nodes, created_by, created_at, updated_by, updated_at}).

One workspace per (created_by, name): saving again under the same name replaces the chart and
keeps the id. A workspace is visible to a request whose scope covers all of its regions (the
scope it was saved in), so nobody sees a chart drawn from regions they may not see.
"""

_FIELDS = ("w {.id, .name, .regions, .joint_operation, .chart, .nodes, .created_by, "
           ".created_at, .updated_by, .updated_at} AS workspace")

_VISIBLE = "all(r IN w.regions WHERE r IN $scope)"

SAVE_WORKSPACE = """
MERGE (w:Workspace {created_by: $user, name: $name})
ON CREATE SET w.id = randomUUID(), w.created_at = $now
SET w.regions = $regions, w.joint_operation = $joint_operation, w.chart = $chart,
    w.nodes = $nodes, w.updated_by = $user, w.updated_at = $now
RETURN """ + _FIELDS

LIST_WORKSPACES = """
MATCH (w:Workspace)
WHERE """ + _VISIBLE + """
RETURN """ + _FIELDS + """
ORDER BY w.updated_at DESC, w.id
LIMIT $limit
"""

GET_WORKSPACE = """
MATCH (w:Workspace {id: $id})
WHERE """ + _VISIBLE + """
RETURN """ + _FIELDS

# Only its creator (or an admin: $any_owner) deletes a workspace; returns what was deleted.
DELETE_WORKSPACE = """
MATCH (w:Workspace {id: $id})
WHERE """ + _VISIBLE + """ AND ($any_owner OR w.created_by = $user)
WITH w, """ + _FIELDS + """
DETACH DELETE w
RETURN workspace
"""
