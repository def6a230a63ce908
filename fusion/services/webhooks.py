"""Webhook delivery of alerts to other systems: signed, retried, at least once.

Each alert is POSTed as JSON to its watch's webhook with

- ``X-Fusion-Signature: sha256=<hex>``: HMAC-SHA256 of the exact body bytes under the
  webhook key (FUSION_ALERTS_WEBHOOK_SECRET, or the key generated once into
  ``FUSION_HOME/alerts/webhook.key``), so the receiver can tell Fusion sent it;
- ``Idempotency-Key: <alert id>``: the same on every retry and after a restart, so a receiver
  that keeps the keys it has seen processes each alert once.

A 2xx answer delivers it; anything else (an error status, a refused connection, a timeout) is
tried again after ``backoff``, 2x``backoff``, 4x``backoff`` ... up to ``attempts`` tries, then the
alert is appended to ``FUSION_HOME/alerts/dead-letter.ndjson`` and marked dead-lettered. The
outcome is kept on the alert in Neo4j; alerts neither delivered nor dead-lettered are sent
again when the service starts (at least once).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import httpx

from fusion.config import Settings
from fusion.services.alerts import Alert, mark_delivery
from fusion.services.runtime import Runtime
from loaders.private import private_dir, private_file

logger = logging.getLogger("fusion.alerts")
SIGNATURE_HEADER = "X-Fusion-Signature"
IDEMPOTENCY_HEADER = "Idempotency-Key"


@dataclass(frozen=True)
class WebhookPolicy:
    """How webhooks are signed and retried, and where undeliverable alerts go."""

    key: bytes
    attempts: int
    backoff_s: float
    dead_letter: Path
    timeout_s: float = 10.0


def alerts_dir(home: Path) -> Path:
    """FUSION_HOME/alerts (private)."""
    return private_dir(home / "alerts", home)


def webhook_key(settings: Settings) -> bytes:
    """The signing key: the setting, else the one generated once into FUSION_HOME."""
    if settings.alerts_webhook_secret is not None:
        return settings.alerts_webhook_secret.get_secret_value().encode()
    path = alerts_dir(settings.home) / "webhook.key"
    if not path.is_file():
        path.write_text(secrets.token_hex(32), "utf-8")
        private_file(path)
    return path.read_text("utf-8").strip().encode()


def policy_of(settings: Settings) -> WebhookPolicy:
    """The webhook policy of ``settings``."""
    return WebhookPolicy(webhook_key(settings), settings.alerts_webhook_attempts,
                         settings.alerts_webhook_backoff_s,
                         alerts_dir(settings.home) / "dead-letter.ndjson")


def signature(key: bytes, body: bytes) -> str:
    """The X-Fusion-Signature value of ``body``."""
    return "sha256=" + hmac.new(key, body, hashlib.sha256).hexdigest()


def body_of(alert: Alert) -> bytes:
    """The POSTed body: the same bytes on every try."""
    return json.dumps({"alert": alert.payload()}, ensure_ascii=False, sort_keys=True,
                      separators=(",", ":")).encode()


async def deliver(runtime: Runtime, client: httpx.AsyncClient, policy: WebhookPolicy,
                  alert: Alert) -> bool:
    """POST ``alert`` to its webhook until a 2xx answer or the last try; True if delivered."""
    assert alert.webhook is not None
    body = body_of(alert)
    headers = {"Content-Type": "application/json", SIGNATURE_HEADER: signature(policy.key, body),
               IDEMPOTENCY_HEADER: alert.id}
    problem = ""
    for attempt in range(1, policy.attempts + 1):
        try:
            response = await client.post(alert.webhook, content=body, headers=headers,
                                         timeout=policy.timeout_s)
            if 200 <= response.status_code < 300:
                await mark_delivery(runtime, alert.id, True, attempt)
                return True
            problem = f"HTTP {response.status_code}"
        except httpx.HTTPError as err:
            problem = f"{type(err).__name__}: {err}"
        logger.warning("alert %s: webhook try %d/%d failed (%s)", alert.id, attempt,
                       policy.attempts, problem)
        if attempt < policy.attempts:
            await asyncio.sleep(policy.backoff_s * 2 ** (attempt - 1))
    _dead_letter(policy.dead_letter, alert, problem, policy.attempts)
    await mark_delivery(runtime, alert.id, False, policy.attempts)
    return False


def _dead_letter(path: Path, alert: Alert, problem: str, attempts: int) -> None:
    """Append the undeliverable alert to the dead-letter file (one JSON object a line)."""
    line = json.dumps({"at": datetime.now(UTC).isoformat(), "url": alert.webhook,
                       "attempts": attempts, "last_error": problem, "alert": alert.payload()},
                      ensure_ascii=False)
    with open(path, "a", encoding="utf-8") as fh:
        fh.write(line + "\n")
    private_file(path)
    logger.error("alert %s: webhook gave up after %d tries; written to %s", alert.id, attempts,
                 path)
