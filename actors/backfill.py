"""BackfillActor: recovers what the sockets missed, from the Genesys REST APIs.

A WebSocket queues nothing: events sent while no socket was open are gone.
For every gap the actor runs the analytics conversation details query over
the gap's interval (widened by ``margin`` seconds on both sides), merges each
record, then fetches ``GET /api/v2/conversations/{id}`` for the conversations
that are still active, whose analytics records lag behind. Everything goes
through the normal merge as source ``backfill``.

A failed back-fill (any ``GenesysError``) is counted as ``BackfillFailures``
and retried after a back-off, or after ``Retry-After`` for a 429, up to
``max_attempts`` times. The actor records the longest gap it has back-filled
(``"stats"``), which bounds how stale a state could have been.

``GET /api/v2/conversations`` without an id lists only the calling user's
conversations. A client-credentials token has no conversations of its own, so
the actor never uses that call.
"""

from __future__ import annotations

import logging
import random
from datetime import UTC, datetime
from typing import Any

import pykka

from actors.messages import ChildFailed, Gap, teller
from actors.router import FrameRouter
from genesys.client import GenesysClient
from genesys.errors import GenesysError, NotFoundError, RateLimitedError
from genesys_stream.clock import Clock
from genesys_stream.metrics import Metrics
from handlers.backoff import Backoff
from handlers.normalize import from_analytics, from_rest

log = logging.getLogger(__name__)


class BackfillActor(pykka.ThreadingActor):
    """Back-fills gaps, one at a time, retrying each with back-off."""

    def __init__(
        self,
        *,
        client: GenesysClient,
        router: FrameRouter,
        clock: Clock,
        metrics: Metrics,
        margin: float = 60.0,
        max_attempts: int = 8,
        backoff: Backoff | None = None,
        supervisor: pykka.ActorRef[Any] | None = None,
    ) -> None:
        super().__init__()
        self.client = client
        self.router = router
        self.clock = clock
        self.metrics = metrics
        self.margin = margin
        self.max_attempts = max_attempts
        self.backoff = backoff or Backoff(base=2.0, cap=60.0, rng=random.Random())
        self.supervisor = supervisor
        self.completed: list[Gap] = []
        self.failures = 0
        self.longest_gap = 0.0

    def on_failure(self, exception_type: Any, exception_value: Any, traceback: Any) -> None:
        if self.supervisor is not None:
            self.supervisor.tell(ChildFailed("backfill", repr(exception_value)))

    def on_receive(self, message: Any) -> Any:
        match message:
            case (Gap() as gap, int(attempt)):
                self._backfill(gap, attempt)
            case Gap() as gap:
                self._backfill(gap, 0)
            case "stats":
                return {
                    "gaps": len(self.completed),
                    "failures": self.failures,
                    "longest_gap": self.longest_gap,
                }
        return None

    def _backfill(self, gap: Gap, attempt: int) -> None:
        start = gap.start - self.margin
        end = gap.end + self.margin
        log.info(
            "backfill.start",
            extra={"channel": gap.channel, "start": start, "end": end, "attempt": attempt},
        )
        try:
            count, active = self._run(start, end)
        except GenesysError as exc:
            self.failures += 1
            self.metrics.increment("BackfillFailures")
            if attempt + 1 >= self.max_attempts:
                log.error(
                    "backfill.abandoned",
                    extra={"channel": gap.channel, "start": start, "end": end, "error": str(exc)},
                )
                return
            if isinstance(exc, RateLimitedError) and exc.retry_after is not None:
                delay = float(exc.retry_after)
            else:
                delay = self.backoff.delay(attempt)
            log.info(
                "backfill.retry",
                extra={
                    "channel": gap.channel,
                    "attempt": attempt + 1,
                    "delay": round(delay, 3),
                    "error": str(exc),
                },
            )
            self.clock.call_later(delay, teller(self.actor_ref, (gap, attempt + 1)))
            return

        self.completed.append(gap)
        self.longest_gap = max(self.longest_gap, gap.end - gap.start)
        self.metrics.increment("BackfilledConversations", count)
        log.info(
            "backfill.done",
            extra={
                "channel": gap.channel,
                "reason": gap.reason,
                "gap_seconds": round(gap.end - gap.start, 3),
                "conversations": count,
                "active": active,
                "longest_gap": round(self.longest_gap, 3),
            },
        )

    def _run(self, start: float, end: float) -> tuple[int, int]:
        received_at = self.clock.time()
        active: list[str] = []
        count = 0
        for record in self.client.query_conversation_details(_utc(start), _utc(end)):
            count += 1
            observation = from_analytics(record, received_at)
            if observation is None:
                continue
            self.router.observe(observation)
            if not record.get("conversationEnd"):
                active.append(observation.conversation_id)

        for conversation_id in active:
            try:
                conversation = self.client.get_conversation(conversation_id)
            except NotFoundError:
                continue
            observation = from_rest(conversation, self.clock.time())
            if observation is not None:
                self.router.observe(observation)
        return count, len(active)


def _utc(epoch_seconds: float) -> datetime:
    return datetime.fromtimestamp(epoch_seconds, UTC)
