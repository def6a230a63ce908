"""The service's alerting loop and the fan-out to subscribers.

Started in the app's lifespan: every ``FUSION_ALERTS_POLL_S`` seconds it evaluates the complete
loads not yet evaluated (:func:`fusion.services.alerts.evaluate_pending`, which finds loads made
by ``fusion load`` in another process, or while the service was down) and the scheduled
standing queries that are due, then hands each new alert to the WebSocket subscribers (each
filters its own) and to its webhook. At start it re-sends the alerts whose webhook delivery
never finished.

With several worker processes (`fusion serve --workers N`) a subscriber is connected to one of
them, and an alert is stored by whichever evaluated its load first: each worker also follows
the alerts every process stored (:func:`fusion.services.alerts.alerts_since`, each round, with
a look-back for those committed late) and hands those it has not handed yet to its own
subscribers. Webhooks stay with the worker that stored the alert.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import UTC, datetime, timedelta

import httpx

from fusion.services.alerts import (
    Alert,
    alerts_since,
    evaluate_pending,
    run_scheduled,
    undelivered_alerts,
)
from fusion.services.runtime import Runtime
from fusion.services.webhooks import WebhookPolicy, deliver

logger = logging.getLogger("fusion.alerts")
QUEUE_SIZE = 1000  # alerts a slow subscriber may fall behind by before it is dropped
LOOK_BACK = timedelta(seconds=30)  # an alert stamped this long before it was committed is seen


class AlertHub:
    """New alerts to subscribers (asyncio queues) and webhooks; the evaluation loop."""

    def __init__(self, runtime: Runtime, policy: WebhookPolicy, poll_s: float) -> None:
        self.runtime, self.policy, self.poll_s = runtime, policy, poll_s
        self.subscribers: dict[asyncio.Queue, str] = {}   # each queue: its owner's alerts
        self.dropped: set[asyncio.Queue] = set()          # fell QUEUE_SIZE behind
        self.tasks: set[asyncio.Task] = set()
        self.client = httpx.AsyncClient()
        self.loop_task: asyncio.Task | None = None
        self.evaluates = True
        self.follows = False
        self._followed = datetime.now(UTC)           # alerts from here on are followed
        self._handed: dict[str, datetime] = {}       # ids handed to subscribers, by created_at

    def subscribe(self, owner: str) -> asyncio.Queue:
        """A queue that receives ``owner``'s new alerts (the subscriber checks its scope)."""
        queue: asyncio.Queue = asyncio.Queue(QUEUE_SIZE)
        self.subscribers[queue] = owner
        return queue

    def unsubscribe(self, queue: asyncio.Queue) -> None:
        self.subscribers.pop(queue, None)
        self.dropped.discard(queue)

    def publish(self, alerts: list[Alert]) -> None:
        """Hand new alerts to every subscriber and start their webhook deliveries."""
        for alert in alerts:
            self._hand(alert)
            if alert.webhook:
                self._spawn(deliver(self.runtime, self.client, self.policy, alert))

    def _hand(self, alert: Alert) -> None:
        """Hand ``alert`` to every subscriber of this process, once."""
        if alert.id in self._handed:
            return
        self._handed[alert.id] = alert.created_at
        for queue, owner in list(self.subscribers.items()):
            if owner != alert.owner:
                continue
            try:
                queue.put_nowait(alert)
            except asyncio.QueueFull:   # the subscription learns it and ends (see dropped)
                logger.warning("an alert subscriber fell %d behind; dropped", QUEUE_SIZE)
                self.subscribers.pop(queue, None)
                self.dropped.add(queue)

    async def follow(self) -> None:
        """Hand this process's subscribers the alerts other processes stored since last."""
        since = self._followed - LOOK_BACK
        for alert in await alerts_since(self.runtime, since):
            self._hand(alert)
            self._followed = max(self._followed, alert.created_at)
        self._handed = {k: at for k, at in self._handed.items() if at >= since}

    def _spawn(self, coroutine) -> None:
        task = asyncio.create_task(coroutine)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def tick(self) -> list[Alert]:
        """One round: evaluate owed loads and due scheduled queries; publish what is new;
        then, with several workers, follow the alerts the others stored."""
        created = scheduled = []
        if self.evaluates:
            created = await evaluate_pending(self.runtime, publish=self.publish)
            scheduled = await run_scheduled(self.runtime)
            self.publish(scheduled)
        if self.follows:
            await self.follow()
        return created + scheduled

    async def _run(self) -> None:
        try:
            for alert in await undelivered_alerts(self.runtime) if self.evaluates else []:
                self._spawn(deliver(self.runtime, self.client, self.policy, alert))
        except Exception:
            logger.warning("could not read undelivered alerts; retried at next start",
                           exc_info=True)
        while True:
            try:
                await self.tick()
            except asyncio.CancelledError:
                raise
            except Exception:  # Neo4j down, a bug: logged, the next round tries again
                logger.warning("alert evaluation failed; retrying", exc_info=True)
            await asyncio.sleep(self.poll_s)

    def start(self, evaluate: bool = True, follow: bool = False) -> None:
        """Start the loop: evaluating loads (and sending webhooks), following the alerts other
        processes store, or both."""
        self.evaluates, self.follows = evaluate, follow
        self.loop_task = asyncio.create_task(self._run())

    async def aclose(self) -> None:
        """Stop the loop and pending deliveries (they resume at the next start)."""
        for task in [self.loop_task, *self.tasks]:
            if task is not None:
                task.cancel()
        for task in [self.loop_task, *self.tasks]:
            if task is not None:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
        await self.client.aclose()
