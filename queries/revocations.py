"""Cypher of token revocation: one ``(:RevokedToken {jti, at, by, reason})`` per revoked token."""

# The first revocation of a jti is kept: revoking twice changes nothing.
REVOKE_TOKEN = (
    "MERGE (t:RevokedToken {jti: $jti}) "
    "ON CREATE SET t.at = $at, t.by = $by, t.reason = $reason "
    "RETURN t.jti AS jti, t.at AS at, t.by AS by, t.reason AS reason"
)

REVOKED_TOKENS = (
    "MATCH (t:RevokedToken) "
    "RETURN t.jti AS jti, t.at AS at, t.by AS by, t.reason AS reason ORDER BY t.at, t.jti"
)

REVOKED_JTIS = "MATCH (t:RevokedToken) RETURN collect(t.jti) AS jtis"
