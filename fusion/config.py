"""Settings: one pydantic-settings object, built once at start-up and passed explicitly.

The first block is the contract's configuration table (``shared/contract/README.md``); the rest
are operator knobs for the managed Neo4j and safety limits. Every field has a description, and
the README documents every one (a test holds both to that).
"""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

_DURATION_PART = re.compile(r"(\d+)([smhdw])")
_DURATION_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def _default_home() -> Path:
    return Path.home() / ".local" / "share" / "fusion"


def parse_duration(text: str) -> timedelta:
    """A positive duration such as "8h", "30m", "7d", "90s", "2w" or "1h30m"; ValueError else."""
    cleaned = text.strip().lower()
    parts = _DURATION_PART.findall(cleaned)
    if not parts or "".join(n + u for n, u in parts) != cleaned:
        raise ValueError(f"Cannot read the duration {text!r}: use e.g. 8h, 30m, 7d, 1h30m.")
    duration = sum((timedelta(**{_DURATION_UNITS[u]: int(n)}) for n, u in parts), timedelta())
    if duration <= timedelta(0):
        raise ValueError(f"The duration {text!r} must be positive.")
    return duration


class Settings(BaseSettings):
    """Fusion's configuration, read from ``FUSION_*`` environment variables."""

    model_config = SettingsConfigDict(env_prefix="FUSION_", extra="ignore")

    # -- the contract's table ------------------------------------------------------------------
    home: Path = Field(
        default_factory=_default_home,
        description="Managed Neo4j, quarantine files, event store, audit log, signing secret.",
    )
    neo4j_uri: str | None = Field(
        default=None,
        description="An external Neo4j (neo4j:// or bolt://); unset: use the managed local Neo4j.",
    )
    neo4j_user: str | None = Field(
        default=None, description="User for an external Neo4j (managed db: its own)."
    )
    neo4j_password: SecretStr | None = Field(
        default=None, description="Password for an external Neo4j (managed db: its own)."
    )
    db_bolt_port: int = Field(default=7687, description="Bolt port of the managed Neo4j.")
    db_http_port: int = Field(default=7474, description="HTTP port of the managed Neo4j.")
    secret: SecretStr | None = Field(
        default=None,
        description="Token signing secret; unset: generated once into FUSION_HOME.",
    )
    require_purpose: bool = Field(
        default=True, description="Data queries must state a purpose (X-Purpose header)."
    )

    # -- tokens and metrics ----------------------------------------------------------------------
    token_max_ttl: timedelta = Field(
        default=timedelta(hours=12),
        description="Longest lifetime of a bearer token (e.g. 12h, 30m, 2d): `fusion token "
        "issue` refuses longer ones and the service refuses tokens that live longer.",
    )
    token_revocation_refresh: float = Field(
        default=2.0, gt=0, le=60,
        description="Seconds between the service's re-reads of the revoked tokens from Neo4j "
        "(a revocation takes effect within about this long).",
    )
    metrics_token: SecretStr | None = Field(
        default=None,
        description="Bearer token a Prometheus scraper sends to GET /metrics; unset: /metrics "
        "answers loopback clients only.",
    )

    # -- workbench -------------------------------------------------------------------------------
    workbench_timezone: str = Field(
        default="Asia/Shanghai",
        description="IANA time zone the workbench shows times in by default (the API answers in "
        "UTC; each analyst may change it in the page's settings).",
    )
    workbench_tile_url: str | None = Field(
        default=None,
        description="Map tile URL template ({z}/{x}/{y}) for sites with a tile server; unset: "
        "the workbench draws sensors on a plain projected map (no internet needed).",
    )

    # -- managed Neo4j ---------------------------------------------------------------------------
    db_heap: str = Field(
        default="4g",
        description="JVM heap of the managed Neo4j (initial = max). 4g + 4g page cache leaves "
        "most of a 24 GB machine to the service and its analyses.",
    )
    db_pagecache: str = Field(
        default="4g", description="Page cache of the managed Neo4j (server.memory.pagecache.size)."
    )
    db_start_timeout: float = Field(
        default=180.0, description="Seconds `fusion db start` waits for Bolt before giving up."
    )
    neo4j_database: str = Field(default="neo4j", description="Database name used for the graph.")

    # -- GraphQL service limits --------------------------------------------------------------
    api_max_depth: int = Field(
        default=10, ge=2,
        description="Deepest selection nesting a GraphQL operation may have (introspection "
        "fields excepted); deeper operations are refused with TOO_COMPLEX.",
    )
    api_max_aliases: int = Field(
        default=20, ge=0,
        description="Most aliased fields one GraphQL document may hold (fragments included).",
    )
    api_max_tokens: int = Field(
        default=4000, ge=100,
        description="Most lexical tokens one GraphQL document may hold; parsing stops there.",
    )
    api_max_results: int = Field(
        default=1000, ge=1,
        description="Hard cap on any `limit` argument and on the nodes of a neighbourhood.",
    )
    api_max_hops: int = Field(
        default=8, ge=1,
        description="Most hops a relationship path or neighbourhood expansion may take.",
    )
    query_timeout: float = Field(
        default=30.0, gt=0,
        description="Seconds one Neo4j transaction or in-memory analysis of a request may run "
        "before it is abandoned (TOO_COMPLEX).",
    )

    # -- alerts (docs/alerts.md) -------------------------------------------------------------------
    alerts_enabled: bool = Field(
        default=True,
        description="This service process evaluates new loads for alerts (run exactly one "
        "evaluating process per graph; others only serve).",
    )
    alerts_poll_s: float = Field(
        default=0.5, gt=0,
        description="Seconds between the service's looks for loads whose alerts are owed.",
    )
    alerts_webhook_secret: SecretStr | None = Field(
        default=None,
        description="HMAC-SHA256 key signing webhook POSTs; unset: generated once into "
        "FUSION_HOME/alerts/webhook.key.",
    )
    alerts_webhook_attempts: int = Field(
        default=5, ge=1, description="Webhook tries before an alert goes to the dead-letter file.",
    )
    alerts_webhook_backoff_s: float = Field(
        default=1.0, gt=0,
        description="Seconds before the second webhook try; each later wait doubles.",
    )

    @field_validator("home")
    @classmethod
    def _expand_home(cls, value: Path) -> Path:
        return value.expanduser().absolute()

    @field_validator("token_max_ttl", mode="before")
    @classmethod
    def _read_duration(cls, value: object) -> object:
        return parse_duration(value) if isinstance(value, str) else value

    @field_validator("token_max_ttl")
    @classmethod
    def _positive_ttl(cls, value: timedelta) -> timedelta:
        if value <= timedelta(0):
            raise ValueError("FUSION_TOKEN_MAX_TTL must be positive")
        return value

    @field_validator("workbench_timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"FUSION_WORKBENCH_TIMEZONE {value!r} is not an IANA time zone "
                             "(e.g. Asia/Shanghai)") from None
        return value

    @field_validator("neo4j_uri")
    @classmethod
    def _check_uri(cls, value: str | None) -> str | None:
        if value in (None, ""):
            return None
        schemes = ("neo4j://", "neo4j+s://", "neo4j+ssc://", "bolt://", "bolt+s://", "bolt+ssc://")
        if not value.startswith(schemes):
            raise ValueError("FUSION_NEO4J_URI must start with neo4j:// or bolt://")
        return value

    @property
    def external(self) -> bool:
        """True when an external Neo4j is configured and the managed one is not used."""
        return self.neo4j_uri is not None


def load_settings(**overrides: object) -> Settings:
    """Build the settings from the environment; keyword overrides win (for tests and the CLI)."""
    return Settings(**overrides)
