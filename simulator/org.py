"""The notification state of the simulated org: OAuth tokens, channels, subscriptions.

``Org`` is plain, thread-safe state with no I/O and no timers: the HTTP
handlers, the WebSocket server and the clock thread all call it, and the
``Simulator`` turns what it returns (channels gone, topics to deliver) into
frames. Every expiry is judged against the injected clock, so a ``FakeClock``
moves tokens and channels through their whole life.

Limits reproduced (Genesys Cloud notifications API):

- a channel lives ``channel_ttl`` seconds (24 hours), and replacing or adding
  subscriptions restarts that time;
- a channel is gone when the token that created it expires;
- at most ``max_topics`` (1,000) topics per channel, more is a 400;
- at most ``max_channels`` (20) channels per OAuth client: creating one more
  evicts the oldest channel without a socket, else the oldest channel;
- a combined topic ``v2.users.<id>?conversations&presence`` counts as one topic
  of at most 200 characters and delivers under each expanded name.
"""

from __future__ import annotations

import re
import secrets
import string
import threading
from collections import deque
from collections.abc import Callable, Collection, Hashable, Iterable
from dataclasses import dataclass, field
from typing import Literal

from genesys_stream.clock import Clock

COMBINED_TOPIC_MAX_LENGTH = 200

MEDIA_TYPES = (
    "calls",
    "callbacks",
    "chats",
    "emails",
    "messages",
    "cobrowseSessions",
    "screenshares",
    "socialexpressions",
    "videos",
)
DETAIL_EVENT_KINDS = (
    "customer.start",
    "customer.end",
    "acd.start",
    "acd.end",
    "user.start",
    "user.end",
    "acw",
    "wrapup",
    "flow.start",
    "flow.end",
    "flow.outcome",
    "attributes",
    "contact",
    "outbound",
    "voicemail.start",
    "voicemail.end",
)
USER_TOPIC_SUFFIXES = ("presence", "routingStatus", "activity", "conversationsummary")

_ID = r"[A-Za-z0-9_-]+"
_MEDIA = "|".join(MEDIA_TYPES)
_KINDS = "|".join(re.escape(kind) for kind in DETAIL_EVENT_KINDS)
_USER_SUFFIXES = "|".join(USER_TOPIC_SUFFIXES)
# Topic shapes this simulator delivers; any other shape is Rejected.
_KNOWN_TOPICS = tuple(
    re.compile(pattern)
    for pattern in (
        rf"v2\.routing\.queues\.{_ID}\.conversations(?:\.(?:{_MEDIA}))?",
        rf"v2\.users\.{_ID}\.conversations(?:\.(?:{_MEDIA}))?",
        rf"v2\.users\.{_ID}\.(?:{_USER_SUFFIXES})",
        rf"v2\.detail\.events\.conversation\.{_ID}\.(?:{_KINDS})",
        rf"v2\.analytics\.queues\.{_ID}\.observations",
    )
)

_CHANNEL_ID_ALPHABET = string.ascii_lowercase + string.digits
_TOKEN_ALPHABET = string.ascii_letters + string.digits + "-_"

TopicFilter = Collection[str] | Callable[[str], bool]


class SubscriptionError(Exception):
    """A subscriptions request that the API rejects with a 4xx status."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass
class Token:
    value: str
    client_id: str
    expires_at: float  # epoch seconds on the simulator clock


@dataclass(frozen=True)
class Subscription:
    """One topic of a channel, as ``GET /channels/{id}/subscriptions`` lists it."""

    id: str
    state: Literal["Permitted", "Rejected"]
    rejection_reason: str | None = None
    missing_permissions: tuple[str, ...] = ()
    # Concrete topic names this subscription delivers (empty when Rejected).
    delivers: frozenset[str] = frozenset()

    def to_json(self) -> dict[str, object]:
        entity: dict[str, object] = {"id": self.id, "state": self.state}
        if self.state == "Rejected":
            entity["rejectionReason"] = self.rejection_reason
            entity["missingPermissions"] = list(self.missing_permissions)
        return entity


@dataclass
class Channel:
    id: str
    token: str
    client_id: str
    created_at: float  # epoch seconds
    expires_at: float  # epoch seconds
    subscriptions: dict[str, Subscription] = field(default_factory=dict)
    # Every concrete topic the Permitted subscriptions deliver, for a quick lookup.
    delivered: frozenset[str] = frozenset()

    def set_subscriptions(self, subscriptions: dict[str, Subscription]) -> None:
        self.subscriptions = subscriptions
        self.delivered = frozenset(
            topic for subscription in subscriptions.values() for topic in subscription.delivers
        )


@dataclass(frozen=True)
class GoneChannel:
    """A channel the org removed, with the reason, for the frame its socket gets."""

    channel_id: str
    reason: Literal["expired", "evicted", "token_expired", "token_revoked"]


def new_channel_id() -> str:
    """Return an id shaped like the real ones: ``streaming-2-`` and 26 characters."""
    return "streaming-2-" + "".join(secrets.choice(_CHANNEL_ID_ALPHABET) for _ in range(26))


def check_topic(topic: str, rejected: Callable[[str], bool]) -> Subscription:
    """Decide whether ``topic`` is Permitted, and which concrete topics it delivers."""
    if not topic:
        return _rejected(topic, "The topic is empty.")

    prefix, separator, suffixes = topic.partition("?")
    if separator:
        if len(topic) > COMBINED_TOPIC_MAX_LENGTH:
            return _rejected(
                topic,
                f"A combined topic may have at most {COMBINED_TOPIC_MAX_LENGTH} characters.",
            )
        if "?" in suffixes or not suffixes:
            return _rejected(topic, "A combined topic has one prefix and a list of suffixes.")
        expanded = [f"{prefix}.{suffix}" for suffix in suffixes.split("&")]
    else:
        expanded = [topic]

    for name in expanded:
        if not any(pattern.fullmatch(name) for pattern in _KNOWN_TOPICS):
            return _rejected(topic, f"The topic {name} is not a known notification topic.")
    if any(rejected(name) for name in [topic, *expanded]):
        # NOTE: the real permission names per topic are not published; this one
        # is what GET /api/v2/conversations/{id} requires.
        return _rejected(
            topic,
            "The OAuth client is missing a permission this topic requires.",
            ("conversation:communication:view",),
        )
    return Subscription(topic, "Permitted", delivers=frozenset(expanded))


def _rejected(topic: str, reason: str, missing: tuple[str, ...] = ()) -> Subscription:
    return Subscription(topic, "Rejected", rejection_reason=reason, missing_permissions=missing)


def _as_predicate(rejected_topics: TopicFilter) -> Callable[[str], bool]:
    if callable(rejected_topics):
        return rejected_topics
    names = frozenset(rejected_topics)
    return names.__contains__


class RateLimiter:
    """At most ``limit`` requests per key in any ``window`` seconds of the clock."""

    def __init__(self, clock: Clock, limit: int, window: float = 60.0) -> None:
        if limit < 1 or window <= 0:
            raise ValueError(
                f"A rate limit needs 1 or more requests per positive window, not {limit} "
                f"per {window} s."
            )
        self._clock = clock
        self._limit = limit
        self._window = window
        self._lock = threading.Lock()
        self._times: dict[Hashable, deque[float]] = {}

    def acquire(self, key: Hashable) -> float | None:
        """Count one request for ``key``; return None if allowed, else the seconds to wait."""
        now = self._clock.monotonic()
        with self._lock:
            times = self._times.setdefault(key, deque())
            while times and times[0] <= now - self._window:
                times.popleft()
            if len(times) >= self._limit:
                return times[0] + self._window - now
            times.append(now)
            return None


class Org:
    """Tokens and channels of one simulated org, safe to call from any thread."""

    def __init__(
        self,
        clock: Clock,
        *,
        token_ttl: float,
        channel_ttl: float,
        max_channels: int,
        max_topics: int,
        rejected_topics: TopicFilter = (),
    ) -> None:
        self._clock = clock
        self.token_ttl = token_ttl
        self.channel_ttl = channel_ttl
        self.max_channels = max_channels
        self.max_topics = max_topics
        self._is_rejected = _as_predicate(rejected_topics)
        self._lock = threading.Lock()
        self._tokens: dict[str, Token] = {}
        self._channels: dict[str, Channel] = {}

    # Tokens

    def issue_token(self, client_id: str) -> Token:
        token = Token(
            value="".join(secrets.choice(_TOKEN_ALPHABET) for _ in range(64)),
            client_id=client_id,
            expires_at=self._clock.time() + self.token_ttl,
        )
        with self._lock:
            self._tokens[token.value] = token
        return token

    def authenticate(self, value: str) -> Token | None:
        """Return the token if it exists and has not expired."""
        with self._lock:
            token = self._tokens.get(value)
        if token is None or token.expires_at <= self._clock.time():
            return None
        return token

    def expire_token(self, value: str) -> list[GoneChannel]:
        """Forget an expired token and remove every channel it created."""
        with self._lock:
            token = self._tokens.get(value)
            if token is None or token.expires_at > self._clock.time():
                return []
            del self._tokens[value]
            gone = [channel.id for channel in self._channels.values() if channel.token == value]
            for channel_id in gone:
                del self._channels[channel_id]
        return [GoneChannel(channel_id, "token_expired") for channel_id in gone]

    def revoke_tokens(self) -> list[GoneChannel]:
        """Revoke every token and remove every channel."""
        with self._lock:
            self._tokens.clear()
            gone = list(self._channels)
            self._channels.clear()
        return [GoneChannel(channel_id, "token_revoked") for channel_id in gone]

    # Channels

    def create_channel(
        self, token: Token, is_connected: Callable[[str], bool]
    ) -> tuple[Channel, list[GoneChannel]]:
        """Create a channel for ``token``, evicting channels over the client's limit."""
        now = self._clock.time()
        channel = Channel(
            id=new_channel_id(),
            token=token.value,
            client_id=token.client_id,
            created_at=now,
            expires_at=now + self.channel_ttl,
        )
        with self._lock:
            evicted = self._evict_for(token.client_id, is_connected, now)
            self._channels[channel.id] = channel
        return channel, [GoneChannel(channel_id, "evicted") for channel_id in evicted]

    def _evict_for(
        self, client_id: str, is_connected: Callable[[str], bool], now: float
    ) -> list[str]:
        owned = [
            channel
            for channel in self._channels.values()
            if channel.client_id == client_id and channel.expires_at > now
        ]
        excess = len(owned) + 1 - self.max_channels
        if excess <= 0:
            return []
        # Oldest channels without a socket go first, then the oldest of the rest.
        owned.sort(key=lambda channel: (is_connected(channel.id), channel.created_at))
        evicted = [channel.id for channel in owned[:excess]]
        for channel_id in evicted:
            del self._channels[channel_id]
        return evicted

    def channel(self, channel_id: str) -> Channel | None:
        """Return the channel if it exists and has not expired."""
        with self._lock:
            channel = self._channels.get(channel_id)
        if channel is None or channel.expires_at <= self._clock.time():
            return None
        return channel

    def channels_of(
        self, *, token: str | None = None, client_id: str | None = None
    ) -> list[Channel]:
        now = self._clock.time()
        with self._lock:
            return [
                channel
                for channel in self._channels.values()
                if channel.expires_at > now
                and (token is None or channel.token == token)
                and (client_id is None or channel.client_id == client_id)
            ]

    def all_channels(self) -> list[Channel]:
        with self._lock:
            return list(self._channels.values())

    def expire_channel(self, channel_id: str) -> float | GoneChannel | None:
        """Remove the channel if its time is up.

        Returns the new expiry (epoch seconds) when subscribing has extended
        it, the removal when it has expired, and None when it is already gone.
        """
        with self._lock:
            channel = self._channels.get(channel_id)
            if channel is None:
                return None
            if channel.expires_at > self._clock.time():
                return channel.expires_at
            del self._channels[channel_id]
        return GoneChannel(channel_id, "expired")

    def evict_channel(self, channel_id: str) -> GoneChannel | None:
        with self._lock:
            if self._channels.pop(channel_id, None) is None:
                return None
        return GoneChannel(channel_id, "evicted")

    def subscribers(self, topic: str) -> list[str]:
        """Return the ids of live channels with a Permitted subscription delivering ``topic``."""
        now = self._clock.time()
        with self._lock:
            return [
                channel.id
                for channel in self._channels.values()
                if channel.expires_at > now and topic in channel.delivered
            ]

    # Subscriptions

    def replace_subscriptions(
        self, channel_id: str, topics: Iterable[str], *, ignore_errors: bool
    ) -> list[Subscription]:
        return self._subscribe(channel_id, topics, ignore_errors=ignore_errors, replace=True)

    def add_subscriptions(
        self, channel_id: str, topics: Iterable[str], *, ignore_errors: bool
    ) -> list[Subscription]:
        return self._subscribe(channel_id, topics, ignore_errors=ignore_errors, replace=False)

    def _subscribe(
        self, channel_id: str, topics: Iterable[str], *, ignore_errors: bool, replace: bool
    ) -> list[Subscription]:
        """Apply a PUT (``replace``) or POST of subscriptions.

        Without ``ignore_errors``, one Rejected topic fails the whole request
        with 400 and changes nothing. With it, Permitted topics are kept and
        Rejected ones are listed with their reason. A successful request
        restarts the channel's life at ``channel_ttl``.
        """
        checked = {topic: check_topic(topic, self._is_rejected) for topic in topics}
        rejected = [sub for sub in checked.values() if sub.state == "Rejected"]
        if rejected and not ignore_errors:
            first = rejected[0]
            raise SubscriptionError(
                400,
                f"Topic {first.id} was rejected: {first.rejection_reason} "
                "Remove it, or pass ignoreErrors=true to subscribe the other topics.",
            )

        with self._lock:
            channel = self._channels.get(channel_id)
            now = self._clock.time()
            if channel is None or channel.expires_at <= now:
                raise SubscriptionError(404, f"Channel {channel_id} was not found.")
            merged = dict(checked) if replace else {**channel.subscriptions, **checked}
            if len(merged) > self.max_topics:
                raise SubscriptionError(
                    400,
                    f"A channel may have at most {self.max_topics} topics, "
                    f"and this request would leave {len(merged)}. "
                    "Split the topics across channels.",
                )
            channel.set_subscriptions(merged)
            channel.expires_at = now + self.channel_ttl
            return list(merged.values())

    def subscriptions(self, channel_id: str) -> list[Subscription]:
        channel = self.channel(channel_id)
        if channel is None:
            raise SubscriptionError(404, f"Channel {channel_id} was not found.")
        with self._lock:
            return list(channel.subscriptions.values())

    def delete_subscriptions(self, channel_id: str) -> None:
        channel = self.channel(channel_id)
        if channel is None:
            raise SubscriptionError(404, f"Channel {channel_id} was not found.")
        with self._lock:
            channel.set_subscriptions({})
