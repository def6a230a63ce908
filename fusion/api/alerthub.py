"""The service's alerting loop and the fan-out to subscribers.

Started in the app's lifespan: every ``FUSION_ALERTS_POLL_S`` seconds it evaluates the complete
loads not yet evaluated (:func:`fusion.services.alerts.evaluate_pending`, which finds loads made
by ``fusion load`` in another process, or while the service was down) and the scheduled
standing queries that are due, then hands each new alert to the WebSocket subscribers (each
filters its own) and to its webhook. At start it re-sends the alerts whose webhook delivery
never finished.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

import httpx

from fusion.services.alerts import Alert, evaluate_pending, run_scheduled, undelivered_alerts
from fusion.services.runtime import Runtime
from fusion.services.webhooks import WebhookPolicy, deliver

logger = logging.getLogger("fusion.alerts")
QUEUE_SIZE = 1000  # alerts a slow subscriber may fall behind by before it is dropped


class AlertHub:
    """New alerts to subscribers (asyncio queues) and webhooks; the evaluation loop."""

    def __init__(self, runtime: Runtime, policy: WebhookPolicy, poll_s: float) -> None:
        self.runtime, self.policy, self.poll_s = runtime, policy, poll_s
        self.subscribers: set[asyncio.Queue] = set()
        self.tasks: set[asyncio.Task] = set()
        self.client = httpx.AsyncClient()
        self.loop_task: asyncio.Task | None = None

    def subscribe(self) -> asyncio.Queue:
        """A queue that receives every new alert (the subscriber filters)."""
        queue: asyncio.Queue = asyncio.Queue(QUEUE_SIZE)
        self.subscribers.add(queue)
        return queue

    def unsubscribe(self, queue: asyncio.Queue) -> None:
        self.subscribers.discard(queue)

    def publish(self, alerts: list[Alert]) -> None:
        """Hand new alerts to every subscriber and start their webhook deliveries."""
        for alert in alerts:
            for queue in list(self.subscribers):
                try:
                    queue.put_nowait(alert)
                except asyncio.QueueFull:
                    logger.warning("an alert subscriber fell %d behind; dropped", QUEUE_SIZE)
                    self.subscribers.discard(queue)
            if alert.webhook:
                self._spawn(deliver(self.runtime, self.client, self.policy, alert))

    def _spawn(self, coroutine) -> None:
        task = asyncio.create_task(coroutine)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def tick(self) -> list[Alert]:
        """One round: evaluate owed loads and due scheduled queries; publish what is new."""
        created = await evaluate_pending(self.runtime, publish=self.publish)
        scheduled = await run_scheduled(self.runtime)
        self.publish(scheduled)
        return created + scheduled

    async def _run(self) -> None:
        try:
            for alert in await undelivered_alerts(self.runtime):
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

    def start(self) -> None:
        """Start the evaluation loop."""
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
