"""Bearer tokens: HS256 JWTs naming a user, a role and home regions, with an enforced expiry.

The signing secret is ``FUSION_SECRET`` when set; otherwise it is generated once into
``FUSION_HOME/secret`` (mode 0600) and read back on every later start, so tokens survive restarts.

Every token carries an id (``jti``) by which it can be revoked (:mod:`fusion.auth.revocation`),
and lives at most ``FUSION_TOKEN_MAX_TTL`` (12 h by default). :func:`load_secret` returns the
secret as a :class:`SigningKey` that carries that policy, so :func:`decode_token` — and through
it :func:`fusion.auth.access.authenticate` — refuses revoked and over-long tokens wherever the
key is used.
"""

from __future__ import annotations

import os
import secrets
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import jwt

from fusion.auth.revocation import RevocationList
from fusion.auth.roles import parse_role
from fusion.config import Settings, parse_duration
from fusion.errors import BadInput, ConfigError, Unauthenticated

ALGORITHM = "HS256"
ISSUER = "fusion"
MIN_SECRET_BYTES = 32  # RFC 7518 3.2: an HS256 key is at least as long as the hash output.
SECRET_FILE = "secret"

DEFAULT_MAX_TTL = timedelta(hours=12)
REQUIRED_CLAIMS = ["exp", "iat", "sub", "iss", "jti"]
MAX_VERIFIED = 4096  # tokens whose verified claims a signing key remembers


class SigningKey(bytes):
    """The signing secret with its token policy: the longest lifetime and the revoked ids.

    It also remembers the claims of the tokens it verified (:class:`VerifiedTokens`), so a
    caller's token is checked cryptographically once, not on every request.
    """

    max_ttl: timedelta
    revocations: RevocationList | None
    verified: VerifiedTokens

    def __new__(cls, value: bytes, max_ttl: timedelta = DEFAULT_MAX_TTL,
                revocations: RevocationList | None = None) -> SigningKey:
        key = super().__new__(cls, value)
        key.max_ttl, key.revocations = max_ttl, revocations
        key.verified = VerifiedTokens()
        return key


class VerifiedTokens:
    """Claims of tokens whose signature, issuer, claims and lifetime were checked, by token.

    A hit is still refused once the token has expired (as PyJWT refuses it) and still checked
    against the revocation list on every use (by :func:`decode_token`); at most
    :data:`MAX_VERIFIED` tokens are kept, the oldest dropped first.
    """

    def __init__(self, size: int = MAX_VERIFIED) -> None:
        self._size = size
        self._claims: dict[str, dict] = {}

    def get(self, token: str) -> dict | None:
        """The claims of ``token`` if verified before; ExpiredSignatureError once expired."""
        claims = self._claims.get(token)
        if claims is not None and claims["exp"] <= time.time():
            self._claims.pop(token, None)
            raise jwt.ExpiredSignatureError("Signature has expired")
        return claims

    def put(self, token: str, claims: dict) -> None:
        """Remember that ``token`` verified with ``claims``."""
        self._claims[token] = claims
        while len(self._claims) > self._size:
            self._claims.pop(next(iter(self._claims)), None)


def secret_path(settings: Settings) -> Path:
    """Where the generated signing secret lives."""
    return settings.home / SECRET_FILE


def load_secret(settings: Settings) -> SigningKey:
    """The signing key: FUSION_SECRET, else the secret generated once into FUSION_HOME, with
    the lifetime cap and the revocation list of ``settings``."""
    if settings.secret is not None:
        value = settings.secret.get_secret_value().encode()
        if len(value) < MIN_SECRET_BYTES:
            raise ConfigError(f"FUSION_SECRET must be at least {MIN_SECRET_BYTES} bytes long.")
    else:
        value = _generated_secret(secret_path(settings))
    return SigningKey(value, settings.token_max_ttl, RevocationList(settings))


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
    """A signed token for ``user`` with ``role`` and home ``regions``, valid for ``ttl`` (at
    most the key's ``max_ttl``; 12 h for a plain secret)."""
    return issue_claims(secret, user, role, regions, ttl, now)[0]


def issue_claims(secret: bytes, user: str, role: object, regions: Sequence[str],
                 ttl: timedelta, now: datetime | None = None) -> tuple[str, dict]:
    """(token, claims) as :func:`issue_token` makes them; the claims carry the ``jti``."""
    if not user:
        raise BadInput("A token needs a user.")
    if not regions or any(not r for r in regions):
        raise BadInput("A token needs at least one home region.")
    _check_ttl(ttl, max_ttl_of(secret))
    issued = (now or datetime.now(UTC)).astimezone(UTC)
    claims = {
        "iss": ISSUER,
        "sub": user,
        "role": str(parse_role(str(role))),
        "regions": sorted(set(regions)),
        "iat": int(issued.timestamp()),
        "exp": int((issued + ttl).timestamp()),
        "jti": secrets.token_hex(16),
    }
    return jwt.encode(claims, secret, algorithm=ALGORITHM), claims


def max_ttl_of(secret: bytes) -> timedelta:
    """The longest lifetime of tokens signed with ``secret``."""
    return getattr(secret, "max_ttl", DEFAULT_MAX_TTL)


def _check_ttl(ttl: timedelta, max_ttl: timedelta) -> None:
    if ttl <= timedelta(0):
        raise BadInput("A token's time to live must be positive.")
    if ttl > max_ttl:
        raise BadInput(f"A token may live at most {_hours(max_ttl)} (FUSION_TOKEN_MAX_TTL); "
                       f"{_hours(ttl)} was asked for.")


def _hours(duration: timedelta) -> str:
    return f"{duration.total_seconds() / 3600:g} h"


def decode_token(token: str, secret: bytes) -> dict:
    """The verified claims of ``token``.

    Raises jwt.InvalidTokenError when it is not a valid token, Unauthenticated when it lives
    longer than the key allows or is revoked, DatabaseError when revocations cannot be checked.
    """
    cache: VerifiedTokens | None = getattr(secret, "verified", None)
    claims = None if cache is None else cache.get(token)
    if claims is None:
        claims = _verified_claims(token, secret)
        if cache is not None:
            cache.put(token, claims)
    revocations = getattr(secret, "revocations", None)
    if revocations is not None:
        revocations.check(claims["jti"])
    return claims


def _verified_claims(token: str, secret: bytes) -> dict:
    """The claims of ``token`` once its signature, claims and lifetime are checked."""
    claims = jwt.decode(token, secret, algorithms=[ALGORITHM], issuer=ISSUER,
                        options={"require": REQUIRED_CLAIMS})
    lifetime = claims["exp"] - claims["iat"]
    if not isinstance(lifetime, int) or lifetime > max_ttl_of(secret).total_seconds():
        raise Unauthenticated("The token lives longer than FUSION_TOKEN_MAX_TTL allows; "
                              "ask for a new one.")
    if not isinstance(claims["jti"], str) or not claims["jti"]:
        raise Unauthenticated("The token has no id (jti).")
    return claims


def parse_ttl(text: str) -> timedelta:
    """A duration such as "8h", "30m", "7d", "90s", "2w" or "1h30m"."""
    try:
        return parse_duration(text)
    except ValueError as err:
        raise BadInput(str(err)) from None
