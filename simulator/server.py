"""The simulated Genesys Cloud org: login, API and streaming hosts on loopback.

``Simulator`` wires the parts together and owns their timers:

- ``Org`` (simulator.org): tokens, channels, subscriptions and their limits;
- ``Api`` and ``HttpServer`` (simulator.http_api): the login and API hosts;
- ``SocketServer`` (simulator.websocket): one WebSocket per channel;
- ``FaultControl`` (simulator.faults): faults on demand.

Every lifetime (token, channel, heartbeat, scheduled emission) runs on the
injected clock, so a test with a ``FakeClock`` moves a whole day with
``clock.advance``. Timer callbacks run on the thread that advances the
clock; they only update state and queue frames for the WebSocket thread.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Protocol

import orjson

from genesys_stream.clock import Clock, SystemClock, Timer
from simulator.faults import FaultControl, FaultCounter
from simulator.http_api import Api, HttpServer
from simulator.org import (
    Channel,
    GoneChannel,
    Org,
    RateLimiter,
    SubscriptionError,
    Token,
    TopicFilter,
)
from simulator.websocket import LIFECYCLE_TIMEOUT, SocketServer, guarded

log = logging.getLogger(__name__)

# Emissions due within this many seconds of now are published together, so
# float rounding of the clock never leaves one for a later advance.
_EMISSION_TOLERANCE = 1e-6


class TruthSource(Protocol):
    """The org's conversations, queues and users, as the REST routes return them.

    ``at`` is the simulator clock's epoch time of the request: a conversation
    is returned as it stood at that moment.
    """

    def rest_conversation(self, conversation_id: str, /, at: float) -> Mapping[str, Any] | None:
        """Return one conversation in REST shape, or None if it does not exist (yet)."""

    def analytics_query(
        self, start: float, end: float, /, at: float
    ) -> Sequence[Mapping[str, Any]]:
        """Return the analytics records of conversations active in ``[start, end)``."""

    def queues(self) -> Sequence[Mapping[str, Any]]: ...

    def users(self) -> Sequence[Mapping[str, Any]]: ...


class EmissionLike(Protocol):
    """One notification to publish at ``at`` (epoch seconds on the simulator clock)."""

    @property
    def at(self) -> float: ...

    @property
    def topic(self) -> str: ...

    @property
    def body(self) -> Mapping[str, Any]: ...

    @property
    def correlation_id(self) -> str | None: ...


class ScenarioLike(Protocol):
    @property
    def emissions(self) -> Sequence[EmissionLike]: ...

    @property
    def truth(self) -> TruthSource: ...


class CombinedTruth:
    """Several truths served as one, e.g. consecutive windows of generated traffic.

    A conversation is looked up in each truth in turn; listings are joined,
    queues and users without repeating an id.
    """

    def __init__(self, truths: Sequence[TruthSource]) -> None:
        self._truths = tuple(truths)

    def rest_conversation(self, conversation_id: str, /, at: float) -> Mapping[str, Any] | None:
        for truth in self._truths:
            found = truth.rest_conversation(conversation_id, at=at)
            if found is not None:
                return found
        return None

    def analytics_query(
        self, start: float, end: float, /, at: float
    ) -> Sequence[Mapping[str, Any]]:
        return [record for t in self._truths for record in t.analytics_query(start, end, at=at)]

    def queues(self) -> Sequence[Mapping[str, Any]]:
        return _unique_by_id(entity for truth in self._truths for entity in truth.queues())

    def users(self) -> Sequence[Mapping[str, Any]]:
        return _unique_by_id(entity for truth in self._truths for entity in truth.users())


def _unique_by_id(entities: Iterable[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    seen: set[object] = set()
    unique = []
    for entity in entities:
        if entity.get("id") not in seen:
            seen.add(entity.get("id"))
            unique.append(entity)
    return unique


@dataclass(frozen=True)
class RequestRecord:
    """One HTTP request the simulator handled (control requests excluded)."""

    at: float  # clock.monotonic() when the response was ready
    method: str
    path: str  # without the query string
    status: int


@dataclass(frozen=True)
class ChannelState:
    """A snapshot of one channel, for inspection."""

    id: str
    topics: tuple[str, ...]  # Permitted subscriptions, as subscribed
    rejected: tuple[str, ...]
    expires: float  # epoch seconds on the simulator clock
    connected: int  # open sockets
    token: str
    client_id: str


class Simulator:
    """A Genesys Cloud org on 127.0.0.1, for development, tests and benchmarks.

    Use it as a context manager, or call ``start`` and ``stop``. All methods
    are safe to call from any thread.

    Times are seconds on ``clock`` (a ``SystemClock`` when None).
    ``rejected_topics`` names the topics, or is a predicate on the topic,
    that subscriptions list as Rejected for a missing permission. Topics of an
    unknown shape are Rejected too. ``http_port`` and ``ws_port`` of 0 pick
    free ports. ``api_rate_limit`` caps API requests per token and
    ``channel_rate_limit`` channel creations per OAuth client, both per minute
    of the clock and off when None. Over a cap the API returns 429 with
    ``Retry-After``. Genesys documents about 300 API requests per minute per
    token, and no number for channel creation.
    """

    def __init__(
        self,
        clock: Clock | None = None,
        client_id: str = "sim-client",
        client_secret: str = "sim-secret",  # noqa: S107 - a throwaway simulator credential
        token_ttl: float = 86400,
        heartbeat_interval: float = 30.0,
        channel_ttl: float = 86400.0,
        max_channels: int = 20,
        max_topics: int = 1000,
        rejected_topics: TopicFilter = (),
        http_port: int = 0,
        ws_port: int = 0,
        api_rate_limit: int | None = None,
        channel_rate_limit: int | None = None,
    ) -> None:
        if token_ttl <= 0 or channel_ttl <= 0 or heartbeat_interval <= 0:
            raise ValueError(
                "token_ttl, channel_ttl and heartbeat_interval must be positive seconds, "
                f"not {token_ttl}, {channel_ttl} and {heartbeat_interval}."
            )
        if max_channels < 1 or max_topics < 1:
            raise ValueError(
                f"max_channels and max_topics must be 1 or more, not {max_channels} and "
                f"{max_topics}."
            )

        self.clock: Clock = clock or SystemClock()
        self.client_id = client_id
        self.client_secret = client_secret
        self.token_ttl = token_ttl
        self.heartbeat_interval = heartbeat_interval
        self.org = Org(
            self.clock,
            token_ttl=token_ttl,
            channel_ttl=channel_ttl,
            max_channels=max_channels,
            max_topics=max_topics,
            rejected_topics=rejected_topics,
        )

        counter = FaultCounter()
        self._sockets = SocketServer(
            self.clock,
            lambda channel_id: self.org.channel(channel_id) is not None,
            counter,
            heartbeat_interval,
        )
        self.faults = FaultControl(self._sockets, counter, self)

        self.api_limiter = (
            None if api_rate_limit is None else RateLimiter(self.clock, api_rate_limit)
        )
        self.channel_limiter = (
            None if channel_rate_limit is None else RateLimiter(self.clock, channel_rate_limit)
        )

        self._http_port = http_port
        self._ws_port = ws_port
        self._http: HttpServer | None = None
        self._lock = threading.Lock()
        self._requests: list[RequestRecord] = []
        self._timers: dict[tuple[str, str], Timer] = {}
        self._truth: TruthSource | None = None
        self._emissions: list[EmissionLike] = []
        self._emission_index = 0  # the first emission not yet published
        self._emission_run = 0

    # Lifecycle

    def start(self) -> Simulator:
        """Start the WebSocket and HTTP servers on 127.0.0.1."""
        if self._http is not None:
            raise RuntimeError("The simulator is already running; stop it before starting again.")
        self._sockets.start(port=self._ws_port)
        self._http = HttpServer(Api(self), port=self._http_port)
        self._http.start()
        log.info(
            "simulator.started",
            extra={"http_port": self._http.port, "ws_port": self._sockets.port},
        )
        return self

    def stop(self) -> None:
        """Cancel every timer, close every socket and stop both servers."""
        with self._lock:
            timers = list(self._timers.values())
            self._timers.clear()
            self._emission_run += 1
        for timer in timers:
            timer.cancel()
        if self._http is not None:
            self._http.stop(LIFECYCLE_TIMEOUT)
            self._http = None
        self._sockets.stop()
        log.info("simulator.stopped")

    def __enter__(self) -> Simulator:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        """URL of both the login host and the API host."""
        if self._http is None:
            raise RuntimeError("The simulator is not running; call start() first.")
        return f"http://127.0.0.1:{self._http.port}"

    @property
    def ws_url(self) -> str:
        """URL of the streaming host; a channel's connectUri is ``{ws_url}/channels/{id}``."""
        if self._http is None:
            raise RuntimeError("The simulator is not running; call start() first.")
        return f"ws://127.0.0.1:{self._sockets.port}"

    # Inspection

    @property
    def frames_sent(self) -> int:
        """Text frames written to every socket since start."""
        return self._sockets.frames_sent

    def queued_frames(self) -> int:
        """Return the frames queued on open sockets and not yet written."""
        return self._sockets.queued_frames()

    @property
    def requests(self) -> list[RequestRecord]:
        with self._lock:
            return list(self._requests)

    def record_request(self, method: str, path: str, status: int) -> None:
        record = RequestRecord(self.clock.monotonic(), method, path, status)
        with self._lock:
            self._requests.append(record)
        log.debug("http.request", extra={"method": method, "path": path, "status": status})

    @property
    def channels(self) -> dict[str, ChannelState]:
        now = self.clock.time()
        return {
            channel.id: self._channel_state(channel)
            for channel in self.org.all_channels()
            if channel.expires_at > now
        }

    def _channel_state(self, channel: Channel) -> ChannelState:
        subscriptions = list(channel.subscriptions.values())
        return ChannelState(
            id=channel.id,
            topics=tuple(sub.id for sub in subscriptions if sub.state == "Permitted"),
            rejected=tuple(sub.id for sub in subscriptions if sub.state == "Rejected"),
            expires=channel.expires_at,
            connected=self._sockets.socket_count(channel.id),
            token=channel.token,
            client_id=channel.client_id,
        )

    @property
    def truth(self) -> TruthSource | None:
        return self._truth

    # Tokens and channels, for the HTTP routes

    def issue_token(self, client_id: str) -> Token:
        token = self.org.issue_token(client_id)
        self._set_timer(("token", token.value), self.token_ttl, lambda: self._expire_token(token))
        log.info("token.issued", extra={"client_id": client_id, "expires_in": self.token_ttl})
        return token

    def authenticate(self, value: str) -> Token | None:
        return self.org.authenticate(value)

    def create_channel(self, token: Token) -> Channel:
        channel, evicted = self.org.create_channel(token, self._sockets.is_connected)
        for gone in evicted:
            self._channel_gone(gone)
        self._schedule_channel_expiry(channel.id, channel.expires_at)
        log.info(
            "channel.created",
            extra={"channel_id": channel.id, "client_id": token.client_id, "evicted": len(evicted)},
        )
        return channel

    def _expire_token(self, token: Token) -> None:
        self._forget_timer(("token", token.value))
        for gone in self.org.expire_token(token.value):
            self._channel_gone(gone)
        log.info("token.expired", extra={"client_id": token.client_id})

    def _schedule_channel_expiry(self, channel_id: str, expires_at: float) -> None:
        delay = expires_at - self.clock.time()
        self._set_timer(("channel", channel_id), delay, lambda: self._expire_channel(channel_id))

    def _expire_channel(self, channel_id: str) -> None:
        self._forget_timer(("channel", channel_id))
        outcome = self.org.expire_channel(channel_id)
        if isinstance(outcome, GoneChannel):
            self._channel_gone(outcome)
        elif outcome is not None:
            # Subscribing extended the channel's life since this timer was set.
            self._schedule_channel_expiry(channel_id, outcome)

    # Faults on the org's state, for FaultControl

    def evict(self, channel_id: str) -> bool:
        gone = self.org.evict_channel(channel_id)
        if gone is None:
            return False
        self._channel_gone(gone)
        return True

    def revoke_tokens(self) -> int:
        with self._lock:
            token_timers = [key for key in self._timers if key[0] == "token"]
            for key in token_timers:
                self._timers.pop(key).cancel()
        removed = self.org.revoke_tokens()
        for gone in removed:
            self._channel_gone(gone)
        return len(removed)

    def unsubscribe(self, channel_id: str | None) -> list[str]:
        if channel_id is None:
            targets = [channel.id for channel in self.org.channels_of()]
        else:
            targets = [channel_id] if self.org.channel(channel_id) is not None else []
        unsubscribed = []
        for target in targets:
            try:
                self.org.delete_subscriptions(target)
            except SubscriptionError:
                continue  # the channel went away meanwhile
            unsubscribed.append(target)
        return unsubscribed

    def _channel_gone(self, gone: GoneChannel) -> None:
        timer = self._forget_timer(("channel", gone.channel_id))
        if timer is not None:
            timer.cancel()
        self._sockets.channel_gone(gone)

    def _set_timer(self, key: tuple[str, str], delay: float, callback: Callable[[], None]) -> None:
        timer = self.clock.call_later(delay, guarded(callback, key[0]))
        with self._lock:
            self._timers[key] = timer

    def _forget_timer(self, key: tuple[str, str]) -> Timer | None:
        with self._lock:
            return self._timers.pop(key, None)

    # Events

    def publish(
        self, topic: str, body: Mapping[str, Any], correlation_id: str | None = None
    ) -> int:
        """Send one data frame now to every open socket subscribed to ``topic``.

        Returns the number of sockets the frame was queued on. With no socket
        the event is lost, as on the real service.
        """
        frame = orjson.dumps(
            {
                "topicName": topic,
                "version": "2",
                "eventBody": body,
                "metadata": {"CorrelationId": correlation_id or str(uuid.uuid4())},
            }
        ).decode()
        delivered = self._sockets.deliver(self.org.subscribers(topic), frame)
        log.debug("event.published", extra={"topic": topic, "sockets": delivered})
        return delivered

    def load(self, scenario: ScenarioLike, *, keep_pending: bool = False) -> None:
        """Serve ``scenario.truth`` and publish each emission at its time.

        The new truth replaces the previous one. Emissions of an earlier load
        not yet published are cancelled, unless ``keep_pending`` merges them
        with the new ones. Emissions already due are published on the next
        clock tick (the next ``advance`` of a ``FakeClock``).
        """
        with self._lock:
            pending = self._emissions[self._emission_index :] if keep_pending else []
            emissions = sorted([*pending, *scenario.emissions], key=lambda emission: emission.at)
            self._truth = scenario.truth
            self._emissions = emissions
            self._emission_index = 0
            self._emission_run += 1
            run = self._emission_run
            previous = self._timers.pop(("emissions", ""), None)
        if previous is not None:
            previous.cancel()
        log.info("scenario.loaded", extra={"emissions": len(emissions), "kept": len(pending)})
        self._schedule_emission(run, 0)

    def _schedule_emission(self, run: int, index: int) -> None:
        if index >= len(self._emissions):
            return
        delay = self._emissions[index].at - self.clock.time()
        self._set_timer(("emissions", ""), delay, lambda: self._emit_due(run, index))

    def _emit_due(self, run: int, index: int) -> None:
        """Publish every emission now due, then wait for the next one."""
        with self._lock:
            if run != self._emission_run:
                return
            emissions = self._emissions
        due_until = self.clock.time() + _EMISSION_TOLERANCE
        while index < len(emissions) and emissions[index].at <= due_until:
            emission = emissions[index]
            try:
                self.publish(emission.topic, emission.body, emission.correlation_id)
            except Exception:
                # One bad emission must not stop the rest, nor kill the clock thread.
                log.exception("event.publish_failed", extra={"topic": emission.topic})
            index += 1
        with self._lock:
            if run != self._emission_run:
                return
            self._emission_index = index
        self._schedule_emission(run, index)
