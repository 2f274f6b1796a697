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

The actor never sleeps. Its REST calls are tried once each, and every wait
(back-off, ``Retry-After``) is a timer on the injected clock, so the actor
keeps handling messages (a stop, a lost socket) while it waits.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable, Sequence
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
from genesys.errors import GenesysError, NotFoundError, RateLimitedError
from genesys.retry import RetryPolicy
from genesys_stream.clock import Clock, Timer
from genesys_stream.metrics import Metrics
from handlers.backoff import Backoff

log = logging.getLogger(__name__)

# Each REST call is tried once; the actor schedules the retry itself.
SINGLE_ATTEMPT = RetryPolicy(max_attempts=1)


class ConnectionActor(pykka.ThreadingActor):
    """Holds one channel shard's notification channel open, whatever happens to it.

    Times are seconds: ``connect_timeout`` bounds the WebSocket handshake,
    ``stable_after`` is how long a session must last before the back-off
    starts again from its first step, and ``rotate_margin`` is how long
    before the channel's ``expires`` the rotation starts. A channel that lives
    less than twice the margin rotates at half its life.
    """

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
        renew_token: Callable[[], None] | None = None,
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
        self.client = client.with_policy(SINGLE_ATTEMPT)
        self.clock = clock
        self.router = router
        self.heartbeat = heartbeat
        self.backfill = backfill
        self.renew_token = renew_token
        self.supervisor = supervisor
        self.metrics = metrics
        self.backoff = backoff or Backoff(base=1.0, cap=60.0, rng=random.Random())
        self.connect_timeout = connect_timeout
        self.stable_after = stable_after
        self.rotate_margin = rotate_margin

        self.live: Session | None = None
        self.next: Session | None = None
        # The channel of a lost session, reused if HEAD still finds it.
        self.reusable: Channel | None = None
        self.next_channel: Channel | None = None
        self.next_subscribed = False
        self.sessions = 0
        # Failures since the last stable session; the back-off grows with it.
        self.attempt = 0
        # The reason of the build under way; set while its retry timer is pending.
        self.building: str | None = None
        # A new token arrived while a build was under way with a channel made
        # with the old one: rotate once more right after adopting it.
        self.rotate_after_adopt: str | None = None
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
        self.client.close()
        log.info("connection.stop", extra={"channel": self.name})

    def on_failure(self, exception_type: Any, exception_value: Any, traceback: Any) -> None:
        """Drop both sockets and tell the Supervisor, which starts a fresh actor."""
        for timer in self.timers.values():
            timer.cancel()
        for session in (self.live, self.next):
            if session is not None:
                session.abort()
        self.client.close()
        if self.supervisor is not None:
            self.supervisor.tell(ChildFailed(self.name, repr(exception_value)))

    def on_receive(self, message: Any) -> Any:
        if self.stopping:
            return None
        match message:
            case Establish(reason=reason):
                self.timers.pop("build", None)
                self._build(reason)
            case Rotate(reason=reason, session=number):
                if number is None or self._is_live(number):
                    self._rotate(reason)
            case TokenRotated():
                self._token_rotated()
            case SocketClosing(session=number):
                if self._is_live(number):
                    self._rotate("socket closing")
            case SocketLost(session=number, code=code, reason=reason):
                self._lost(number, f"{reason} ({code})" if code else reason)
            case ChannelGone(session=number):
                self._channel_gone(number)
            case Dead(session=number, silence=silence):
                self._dead(number, silence)
            case StableCheck(session=number):
                if self._is_live(number):
                    self.attempt = 0
        return None

    def _is_live(self, number: int) -> bool:
        return self.live is not None and self.live.number == number

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
                self.next = self._open(channel)

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
            # Forgotten only once HEAD returns a status, so a failed HEAD is
            # retried and costs no new channel.
            exists = self.client.channel_exists(channel.id)
            self.reusable = None
            if exists:
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

    def _open(self, channel: Channel) -> Session:
        self.sessions += 1
        session = Session.open(
            self.sessions,
            channel,
            self.clock,
            self._on_text,
            self._on_end,
            self.connect_timeout,
        )
        self.heartbeat.tell(
            Watch(self.name, session.number, session.liveness, session.ping, self.actor_ref)
        )
        log.info(
            "session.opened",
            extra={"channel": self.name, "channel_id": channel.id, "session": session.number},
        )
        return session

    def _subscribe(self, session: Session) -> None:
        # One forbidden topic must not cost the others: it comes back Rejected.
        self.client.replace_subscriptions(session.channel.id, self.topics, ignore_errors=True)
        results = self.client.get_subscriptions(session.channel.id)
        permitted = [result for result in results if not result.rejected]
        rejected = [result for result in results if result.rejected]
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
        """Schedule the failed step again: after ``Retry-After`` if given, else the back-off."""
        if isinstance(exc, RateLimitedError) and exc.retry_after is not None:
            delay = max(float(exc.retry_after), self.backoff.delay(0))
        else:
            delay = self.backoff.delay(self.attempt)
        self.attempt += 1

        if isinstance(exc, ConnectionError):
            # The socket never opened: the next try opens a new one.
            self.next = None
            self.metrics.increment("Reconnects")
        elif isinstance(exc, NotFoundError) and self.next_channel is not None:
            # The channel went away while being set up: start over on a new one.
            self._discard_next()

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
        self._later("build", delay, Establish(reason))

    def _discard_next(self) -> None:
        """Forget the session being built and its channel; the next try makes a new one."""
        if self.next is not None:
            self.heartbeat.tell(Unwatch(self.name, self.next.number))
            self.next.abort()
        self.next = None
        self.next_channel = None
        self.next_subscribed = False

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
                extra={
                    "channel": self.name,
                    "channel_id": session.channel.id,
                    "session": session.number,
                    "reason": reason,
                },
            )

        if self.gap_start is not None:
            self._record_gap(reason)

        self._later("stable", self.stable_after, StableCheck(session.number))
        self._later("rotate", self._rotation_delay(session.channel), Rotate("channel expiry"))
        if self.rotate_after_adopt is not None:
            pending, self.rotate_after_adopt = self.rotate_after_adopt, None
            self.actor_ref.tell(Rotate(pending, session.number))

    def _record_gap(self, reason: str) -> None:
        assert self.gap_start is not None
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

    def _rotation_delay(self, channel: Channel) -> float:
        """Return the seconds until the rotation that replaces ``channel`` before it expires."""
        life = channel.expires.timestamp() - self.clock.time()
        # A margin above half the life would rotate again at once, in a loop.
        margin = min(self.rotate_margin, life / 2)
        return max(0.0, life - margin)

    # Rotation and loss.

    def _rotate(self, reason: str) -> None:
        if self.live is None or self.building is not None:
            # Either a build is under way (it ends in a fresh session anyway) or
            # there is nothing to rotate: one switch-over, never two.
            log.info(
                "channel.rotate_skipped",
                extra={"channel": self.name, "reason": reason, "building": self.building},
            )
            return
        log.info(
            "channel.rotate",
            extra={"channel": self.name, "channel_id": self.live.channel.id, "reason": reason},
        )
        self.next_channel = None
        self.next_subscribed = False
        self.reusable = None
        self._build(reason)

    def _token_rotated(self) -> None:
        """Move to a channel of the new token, because a channel dies with its token."""
        if self.building is None:
            self._rotate("token rotated")
            return
        # A reconnect must not go back to a channel of the old token.
        self.reusable = None
        if self.next_channel is not None:
            self.rotate_after_adopt = "token rotated"

    def _lost(self, number: int, reason: str, *, reuse: bool = True) -> None:
        if self.next is not None and self.next.number == number:
            # The session being built died before adoption: its retry opens a new socket.
            self.heartbeat.tell(Unwatch(self.name, number))
            self.next = None
            log.info(
                "session.lost_before_use",
                extra={"channel": self.name, "session": number, "reason": reason},
            )
            if self.building is None:
                self._retry_build("reconnect", ConnectionError(reason))
            elif "build" not in self.timers:
                self._later("build", self.backoff.delay(self.attempt), Establish(self.building))
            return
        if not self._is_live(number):
            return  # a retired socket, closed on purpose
        session = self.live
        assert session is not None

        self.live = None
        self.heartbeat.tell(Unwatch(self.name, number))
        self.gap_start = session.liveness.last_frame_wall or session.liveness.opened_wall
        self.reusable = session.channel if reuse else None
        self._report_status()
        self.metrics.increment("Reconnects")

        if self.building is not None:
            # A rotation is under way: its new session takes over when ready.
            log.info(
                "connection.lost",
                extra={
                    "channel": self.name,
                    "channel_id": session.channel.id,
                    "reason": reason,
                    "building": self.building,
                },
            )
            return
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
        self.next_channel = None
        self.building = "reconnect"
        self._later("build", delay, Establish("reconnect"))

    def _channel_gone(self, number: int) -> None:
        for session in (self.live, self.next):
            if session is None or session.number != number:
                continue
            log.info(
                "channel.not_found",
                extra={"channel": self.name, "channel_id": session.channel.id},
            )
            session.abort()
            if session is self.next:
                # Forget the channel too: the retry builds on a new one.
                self.next_channel = None
                self.next_subscribed = False
            self._lost(number, "channel not found", reuse=False)

    def _dead(self, number: int, silence: float) -> None:
        for session in (self.live, self.next):
            if session is None or session.number != number:
                continue
            log.info(
                "connection.dead",
                extra={"channel": self.name, "channel_id": session.channel.id, "silence": silence},
            )
            session.abort()
            # The channel may well be fine (a half-open TCP connection is the
            # usual cause): HEAD decides whether the reconnect reuses it.
            self._lost(number, "no pong")

    # Frames from the reader thread.

    def _on_text(self, session: Session, text: str) -> None:
        """Run on the reader thread: route data frames, report control frames."""
        control = self.router.route(text, session.liveness.last_frame_wall or self.clock.time())
        if control == "socket_closing":
            tell(self.actor_ref, SocketClosing(session.number))
        elif control == "not_found":
            tell(self.actor_ref, ChannelGone(session.number))
        elif control == "token_revoked":
            # The channel went with the token, and every call with it now fails
            # with 401 until the TokenActor renews ahead of its schedule.
            if self.renew_token is not None:
                self.renew_token()
            tell(self.actor_ref, ChannelGone(session.number))
        elif control == "no_longer_subscribed":
            tell(self.actor_ref, Rotate("no longer subscribed", session.number))

    def _on_end(self, session: Session, code: int | None, reason: str) -> None:
        """Run on the reader thread when its socket ends."""
        tell(self.actor_ref, SocketLost(session.number, code, reason))

    # Helpers.

    def _later(self, key: str, delay: float, message: Any) -> None:
        """Tell ``message`` after ``delay`` seconds, replacing the pending timer ``key``."""
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
