"""The one exception tree of Fusion.

Every error a user can see derives from :class:`FusionError` and carries a stable ``code``
(the contract's ``extensions.code`` values, plus codes for command-line failures) and a
message that is safe to show::

    FusionError
    ├── ConfigError          CONFIG       a setting is missing or contradictory
    ├── EnvironmentMissing   ENVIRONMENT  Java or Maven is not installed
    ├── DatabaseError        UNAVAILABLE  the managed or external Neo4j cannot be used
    │   └── DatabaseStartError            the managed Neo4j did not come up (carries the log tail)
    ├── AuditUnavailable     UNAVAILABLE  the audit log cannot be written (requests are refused)
    ├── BadInput             BAD_INPUT    an argument or file is wrong
    │   └── UnreadableFile                a source file cannot be read at all (exit 2)
    ├── NotFound             NOT_FOUND
    ├── Unauthenticated      UNAUTHENTICATED
    ├── Forbidden            FORBIDDEN
    ├── PurposeRequired      PURPOSE_REQUIRED
    └── TooComplex           TOO_COMPLEX
"""

from __future__ import annotations


class FusionError(Exception):
    """Root of every user-facing error; ``code`` is stable, ``str(err)`` is safe to show."""

    code = "INTERNAL"
    exit_code = 1


class ConfigError(FusionError):
    code = "CONFIG"


class EnvironmentMissing(FusionError):
    """A program Fusion needs (Java, Maven) is not installed."""

    code = "ENVIRONMENT"


class DatabaseError(FusionError):
    code = "UNAVAILABLE"


class DatabaseStartError(DatabaseError):
    """The managed Neo4j did not answer in time; the message carries its log tail."""


class AuditUnavailable(FusionError):
    """The audit log cannot be written or read; no request may be answered unaudited."""

    code = "UNAVAILABLE"


class BadInput(FusionError):
    code = "BAD_INPUT"
    exit_code = 2


class UnreadableFile(BadInput):
    """A source file cannot be read at all: the whole load fails and writes nothing."""


class NotFound(FusionError):
    code = "NOT_FOUND"


class Unauthenticated(FusionError):
    code = "UNAUTHENTICATED"


class Forbidden(FusionError):
    code = "FORBIDDEN"


class PurposeRequired(FusionError):
    code = "PURPOSE_REQUIRED"


class TooComplex(FusionError):
    code = "TOO_COMPLEX"
