"""ConnectionActor: one channel shard's channel, subscriptions and WebSocket.

The actor keeps at most two sessions: ``live``, whose frames feed the
pipeline, and ``next``, being built. Building goes step by step (channel,
socket, subscriptions) and a failed step is retried alone after a back-off,
so a failing subscriptions call never costs a new channel or a second socket.

Every path goes through the same build:

- start: no live session; build one.
- loss (close, drop, ``{"result":"404"}``, no pong): the live session ends, the
  gap starts at its last frame; ``HEAD`` the old channel and reconnect to it if
  it still exists, else make a new channel.
- rotation (``socket_closing``, channel expiry ahead, new token): build the next
  session on a new channel while the live one still runs, then close the old
  socket (make before break). Frames seen on both sockets meanwhile are merged
  once, because the merge is idempotent.

Each gap, from the last frame before a loss to the moment the replacement is
subscribed, goes to the BackfillActor.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Sequence
from typing import Any

import pykka

from actors.messages import (
    ChannelGone,
    ChannelStatus,
    ChildFailed,
    Dead,
    Establish,
    Gap,
    Rotate,
    SocketClosing,
    SocketLost,
    StableCheck,
    TokenRotated,
    Unwatch,
    Watch,
    tell,
    teller,
)
from actors.router import FrameRouter
from actors.session import Session
from genesys.client import Channel, GenesysClient
from genesys.errors import GenesysError, RateLimitedError
from genesys_stream.clock import Clock, Timer
from genesys_stream.metrics import Metrics
from handlers.backoff import Backoff

log = logging.getLogger(__name__)


class ConnectionActor(pykka.ThreadingActor):
    """Holds one channel shard's notification channel open, whatever happens to it."""

    def __init__(
        self,
        *,
        name: str,
        topics: Sequence[str],
        client: GenesysClient,
        clock: Clock,
        router: FrameRouter,
        heartbeat: pykka.ActorRef[Any],
        backfill: pykka.ActorRef[Any] | None,
        supervisor: pykka.ActorRef[Any] | None,
        metrics: Metrics,
        backoff: Backoff | None = None,
        connect_timeout: float = 10.0,
        stable_after: float = 60.0,
        rotate_margin: float = 600.0,
        gap_start: float | None = None,
    ) -> None:
        super().__init__()
        self.name = name
        self.topics = list(topics)
        self.client = client
        self.clock = clock
        self.router = router
        self.heartbeat = heartbeat
        self.backfill = backfill
        self.supervisor = supervisor
        self.metrics = metrics
        self.backoff = backoff or Backoff(base=1.0, cap=60.0, rng=random.Random())
        self.connect_timeout = connect_timeout
        self.stable_after = stable_after
        self.rotate_margin = rotate_margin

        self.live: Session | None = None
        self.next: Session | None = None
        # The channel the next session should reuse if HEAD still finds it.
        self.reusable: Channel | None = None
        self.next_channel: Channel | None = None
        self.next_subscribed = False
        self.sessions = 0
        self.attempt = 0
        self.building: str | None = None
        # Epoch seconds from which events may have been missed; the first
        # adoption back-fills from here (start-up back-fill, or a restart).
        self.gap_start = gap_start
        self.reported_rejections: set[str] = set()
        self.timers: dict[str, Timer] = {}
        self.stopping = False

    # Pykka hooks (run on the actor's thread).

    def on_start(self) -> None:
        log.info("connection.start", extra={"channel": self.name, "topics": len(self.topics)})
        self._build("start")

    def on_stop(self) -> None:
        """Close every socket; runs on the actor's thread during shutdown."""
        self.stopping = True
        for timer in self.timers.values():
            timer.cancel()
        for session in (self.live, self.next):
            if session is not None:
                session.close()
                session.join(timeout=2.0)
        log.info("connection.stop", extra={"channel": self.name})

    def on_failure(self, exception_type: Any, exception_value: Any, traceback: Any) -> None:
        for session in (self.live, self.next):
            if session is not None:
                session.abort()
        if self.supervisor is not None:
            self.supervisor.tell(ChildFailed(self.name, repr(exception_value)))

    def on_receive(self, message: Any) -> Any:
        if self.stopping:
            return None
        match message:
            case Establish(reason=reason):
                self._build(reason)
            case Rotate(reason=reason):
                self._rotate(reason)
            case TokenRotated():
                self._rotate("token rotated")
            case SocketClosing(session=number):
                if self.live is not None and self.live.number == number:
                    self._rotate("socket closing")
            case SocketLost(session=number, code=code, reason=reason):
                self._lost(number, f"{reason} ({code})" if code else reason)
            case ChannelGone(session=number):
                self._channel_gone(number)
            case Dead(session=number, silence=silence):
                self._dead(number, silence)
            case StableCheck(session=number):
                if self.live is not None and self.live.number == number:
                    self.attempt = 0
        return None

    # Building a session: channel, socket, subscriptions, adoption.

    def _build(self, reason: str) -> None:
        self.building = reason
        try:
            # Step 1: a channel, reusing the old one while HEAD still finds it.
            if self.next_channel is None:
                self.next_channel = self._pick_channel()
            channel = self.next_channel

            # Step 2: the socket, opened before subscribing so no event between
            # the two calls is lost.
            if self.next is None:
                self.sessions += 1
                self.next = Session.open(
                    self.sessions,
                    channel,
                    self.clock,
                    self._on_text,
                    self._on_end,
                    self.connect_timeout,
                )
                self.heartbeat.tell(
                    Watch(
                        self.name,
                        self.next.number,
                        self.next.liveness,
                        self.next.ping,
                        self.actor_ref,
                    )
                )

            # Step 3: the topic list.
            if not self.next_subscribed:
                self._subscribe(self.next)
                self.next_subscribed = True
        except (GenesysError, ConnectionError) as exc:
            self._retry_build(reason, exc)
            return

        self._adopt(reason)

    def _pick_channel(self) -> Channel:
        if self.reusable is not None and self.live is None:
            channel = self.reusable
            self.reusable = None
            if self.client.channel_exists(channel.id):
                log.info("channel.reuse", extra={"channel": self.name, "channel_id": channel.id})
                self.next_subscribed = True
                return channel
            log.info("channel.gone", extra={"channel": self.name, "channel_id": channel.id})
        self.next_subscribed = False
        channel = self.client.create_channel()
        self.metrics.increment("ChannelsCreated")
        log.info(
            "channel.created",
            extra={"channel": self.name, "channel_id": channel.id, "expires": channel.expires},
        )
        return channel

    def _subscribe(self, session: Session) -> None:
        self.client.replace_subscriptions(session.channel.id, self.topics)
        results = self.client.get_subscriptions(session.channel.id)
        permitted = [result for result in results if result.state == "Permitted"]
        rejected = [result for result in results if result.state != "Permitted"]
        for result in rejected:
            if result.topic not in self.reported_rejections:
                self.reported_rejections.add(result.topic)
                self.metrics.increment("RejectedTopics")
                log.warning(
                    "topic.rejected",
                    extra={
                        "channel": self.name,
                        "topic": result.topic,
                        "reason": result.rejection_reason,
                        "missing_permissions": result.missing_permissions,
                    },
                )
        session.subscribed = True
        session.permitted = len(permitted)
        self.metrics.set_gauge("TopicsPerChannel", len(permitted))
        log.info(
            "channel.subscribed",
            extra={
                "channel": self.name,
                "channel_id": session.channel.id,
                "permitted": len(permitted),
                "rejected": len(rejected),
            },
        )

    def _retry_build(self, reason: str, exc: Exception) -> None:
        if isinstance(exc, RateLimitedError) and exc.retry_after is not None:
            delay = float(exc.retry_after)
        else:
            delay = self.backoff.delay(self.attempt)
        self.attempt += 1
        self.metrics.increment("Reconnects")
        log.info(
            "connection.retry",
            extra={
                "channel": self.name,
                "attempt": self.attempt,
                "delay": round(delay, 3),
                "reason": reason,
                "error": str(exc),
            },
        )
        if isinstance(exc, ConnectionError):
            # The socket never opened: the next try opens a new one.
            self.next = None
        self._later("build", delay, Establish(reason))

    def _adopt(self, reason: str) -> None:
        session = self.next
        assert session is not None
        old = self.live
        self.live = session
        self.next = None
        self.next_channel = None
        self.next_subscribed = False
        self.building = None
        self.reusable = None
        self._report_status()

        if old is not None:
            # Make before break: the new socket is subscribed, so the old can go.
            self.heartbeat.tell(Unwatch(self.name, old.number))
            old.close()
            self.metrics.increment("ChannelRotations")
            log.info(
                "channel.rotated",
                extra={
                    "channel": self.name,
                    "from_channel_id": old.channel.id,
                    "to_channel_id": session.channel.id,
                    "reason": reason,
                },
            )
        else:
            log.info(
                "channel.connected",
                extra={"channel": self.name, "channel_id": session.channel.id, "reason": reason},
            )

        if self.gap_start is not None:
            gap = Gap(self.name, self.gap_start, self.clock.time(), reason)
            self.gap_start = None
            self.metrics.increment("Gaps")
            log.info(
                "gap.recorded",
                extra={
                    "channel": self.name,
                    "start": gap.start,
                    "end": gap.end,
                    "seconds": round(gap.end - gap.start, 3),
                },
            )
            if self.backfill is not None:
                self.backfill.tell(gap)

        self._later("stable", self.stable_after, StableCheck(session.number))
        until_expiry = session.channel.expires.timestamp() - self.clock.time()
        self._later("rotate", max(0.0, until_expiry - self.rotate_margin), Rotate("channel expiry"))

    # Rotation and loss.

    def _rotate(self, reason: str) -> None:
        if self.live is None or self.building is not None:
            # Either a build is under way (it ends in a fresh session anyway) or
            # there is nothing to rotate: one switch-over, never two.
            return
        log.info("channel.rotate", extra={"channel": self.name, "reason": reason})
        self.next_channel = None
        self.next_subscribed = False
        self.reusable = None
        self._build(reason)

    def _lost(self, number: int, reason: str) -> None:
        if self.next is not None and self.next.number == number:
            # The session being built died before adoption: rebuild its socket.
            self.heartbeat.tell(Unwatch(self.name, number))
            self.next = None
            if self.building is None:
                self._retry_build(reason, ConnectionError(reason))
            return
        if self.live is None or self.live.number != number:
            return  # a retired socket, closed on purpose

        session = self.live
        self.live = None
        self.heartbeat.tell(Unwatch(self.name, number))
        self.gap_start = session.liveness.last_frame_wall or session.liveness.opened_wall
        self.reusable = session.channel
        self._report_status()
        self.metrics.increment("Reconnects")
        delay = self.backoff.delay(self.attempt)
        self.attempt += 1
        log.info(
            "connection.lost",
            extra={
                "channel": self.name,
                "channel_id": session.channel.id,
                "reason": reason,
                "attempt": self.attempt,
                "delay": round(delay, 3),
            },
        )
        if self.building is None:
            self.next_channel = None
            self._later("build", delay, Establish("reconnect"))

    def _channel_gone(self, number: int) -> None:
        for session in (self.live, self.next):
            if session is not None and session.number == number:
                log.info(
                    "channel.not_found",
                    extra={"channel": self.name, "channel_id": session.channel.id},
                )
                if session is self.next:
                    self.next_channel = None
                    self.next_subscribed = False
                session.abort()
                self._lost(number, "channel not found")
                # The channel is gone for good: the rebuild makes a new one.
                self.reusable = None

    def _dead(self, number: int, silence: float) -> None:
        if self.live is None or self.live.number != number:
            return
        log.info(
            "connection.dead",
            extra={"channel": self.name, "channel_id": self.live.channel.id, "silence": silence},
        )
        self.live.abort()
        self._lost(number, "no pong")

    # Frames from the reader thread.

    def _on_text(self, session: Session, text: str) -> None:
        """Run on the reader thread: route data frames, report control frames."""
        control = self.router.route(text, session.liveness.last_frame_wall or self.clock.time())
        if control == "socket_closing":
            self.actor_ref.tell(SocketClosing(session.number))
        elif control == "not_found":
            self.actor_ref.tell(ChannelGone(session.number))
        elif control == "token_revoked":
            self.actor_ref.tell(Rotate("token revoked"))
        elif control == "no_longer_subscribed":
            self.actor_ref.tell(Rotate("no longer subscribed"))

    def _on_end(self, session: Session, code: int | None, reason: str) -> None:
        """Run on the reader thread when its socket ends."""
        tell(self.actor_ref, SocketLost(session.number, code, reason))

    # Helpers.

    def _later(self, key: str, delay: float, message: Any) -> None:
        previous = self.timers.pop(key, None)
        if previous is not None:
            previous.cancel()
        self.timers[key] = self.clock.call_later(delay, teller(self.actor_ref, message))

    def _report_status(self) -> None:
        live = self.live
        self.heartbeat.tell(
            ChannelStatus(
                channel=self.name,
                live=live is not None and live.subscribed,
                permitted_topics=live.permitted if live is not None else 0,
                rejected_topics=len(self.reported_rejections),
            )
        )
