"""Cypher for joint operations: (:JointOperation {id, name, regions, members, valid_until,
closed_at, created_by, created_at}), unique on ``id`` (see queries/schema.py)."""

_FIELDS = ("j {.id, .name, .regions, .members, .valid_until, .closed_at, .created_by, "
           ".created_at} AS op")

CREATE_JOINT_OPERATION = """
CREATE (j:JointOperation {id: $id, name: $name, regions: $regions, members: $members,
                          valid_until: $valid_until, closed_at: null,
                          created_by: $created_by, created_at: $created_at})
RETURN """ + _FIELDS

# closed_at keeps the first close time: closing twice changes nothing.
CLOSE_JOINT_OPERATION = """
MATCH (j:JointOperation {id: $id})
SET j.closed_at = coalesce(j.closed_at, $now)
RETURN """ + _FIELDS

GET_JOINT_OPERATION = """
MATCH (j:JointOperation {id: $id})
RETURN """ + _FIELDS

LIST_JOINT_OPERATIONS = """
MATCH (j:JointOperation)
RETURN """ + _FIELDS + """
ORDER BY j.created_at DESC, j.id
"""

LIST_MEMBER_JOINT_OPERATIONS = """
MATCH (j:JointOperation)
WHERE $user IN j.members
RETURN """ + _FIELDS + """
ORDER BY j.created_at DESC, j.id
"""
