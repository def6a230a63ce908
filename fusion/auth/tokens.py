"""Bearer tokens: HS256 JWTs naming a user, a role and home regions, with an enforced expiry.

The signing secret is ``FUSION_SECRET`` when set; otherwise it is generated once into
``FUSION_HOME/secret`` (mode 0600) and read back on every later start, so tokens survive restarts.
"""

from __future__ import annotations

import os
import re
import secrets
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import jwt

from fusion.config import Settings
from fusion.errors import BadInput, ConfigError

ALGORITHM = "HS256"
ISSUER = "fusion"
MIN_SECRET_BYTES = 32  # RFC 7518 3.2: an HS256 key is at least as long as the hash output.
SECRET_FILE = "secret"

_TTL_PART = re.compile(r"(\d+)([smhdw])")
_TTL_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def secret_path(settings: Settings) -> Path:
    """Where the generated signing secret lives."""
    return settings.home / SECRET_FILE


def load_secret(settings: Settings) -> bytes:
    """The signing secret: FUSION_SECRET, else the one generated once into FUSION_HOME."""
    if settings.secret is not None:
        value = settings.secret.get_secret_value().encode()
        if len(value) < MIN_SECRET_BYTES:
            raise ConfigError(f"FUSION_SECRET must be at least {MIN_SECRET_BYTES} bytes long.")
        return value
    return _generated_secret(secret_path(settings))


def _generated_secret(path: Path) -> bytes:
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        # O_EXCL: of two processes starting at once, exactly one writes the secret.
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return _read_secret(path)
    value = secrets.token_hex(MIN_SECRET_BYTES)
    with os.fdopen(fd, "w") as fh:
        fh.write(value)
        fh.flush()
        os.fsync(fh.fileno())
    return value.encode()


def _read_secret(path: Path) -> bytes:
    if path.stat().st_mode & 0o077:
        raise ConfigError(f"{path} is readable by other users; run `chmod 600 {path}`.")
    value = path.read_text().strip().encode()
    if len(value) < MIN_SECRET_BYTES:
        raise ConfigError(f"{path} holds no usable secret; delete it to generate a new one.")
    return value


def issue_token(secret: bytes, user: str, role: object, regions: Sequence[str],
                ttl: timedelta, now: datetime | None = None) -> str:
    """A signed token for ``user`` with ``role`` and home ``regions``, valid for ``ttl``."""
    from fusion.auth.access import parse_role

    if not user:
        raise BadInput("A token needs a user.")
    if not regions or any(not r for r in regions):
        raise BadInput("A token needs at least one home region.")
    if ttl <= timedelta(0):
        raise BadInput("A token's time to live must be positive.")
    issued = (now or datetime.now(UTC)).astimezone(UTC)
    claims = {
        "iss": ISSUER,
        "sub": user,
        "role": str(parse_role(str(role))),
        "regions": sorted(set(regions)),
        "iat": int(issued.timestamp()),
        "exp": int((issued + ttl).timestamp()),
    }
    return jwt.encode(claims, secret, algorithm=ALGORITHM)


def decode_token(token: str, secret: bytes) -> dict:
    """The verified claims of ``token``; raises jwt.InvalidTokenError when it is not valid."""
    return jwt.decode(token, secret, algorithms=[ALGORITHM], issuer=ISSUER,
                      options={"require": ["exp", "iat", "sub", "iss"]})


def parse_ttl(text: str) -> timedelta:
    """A duration such as "8h", "30m", "7d", "90s", "2w" or "1h30m"."""
    cleaned = text.strip().lower()
    parts = _TTL_PART.findall(cleaned)
    if not parts or "".join(n + u for n, u in parts) != cleaned:
        raise BadInput(f"Cannot read the duration {text!r}: use e.g. 8h, 30m, 7d, 1h30m.")
    ttl = timedelta()
    for number, unit in parts:
        ttl += timedelta(**{_TTL_UNITS[unit]: int(number)})
    if ttl <= timedelta(0):
        raise BadInput(f"The duration {text!r} must be positive.")
    return ttl
