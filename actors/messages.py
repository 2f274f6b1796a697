"""Messages between the actors. Every message is an immutable dataclass.

Session numbers identify one WebSocket of one ConnectionActor. A message about
a session that is no longer current (a reader thread reporting the close of a
socket that was already replaced) is ignored by its receiver.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pykka

from stores.base import OutboundMessage

# ConnectionActor


@dataclass(frozen=True)
class Establish:
    """Build (or finish building) the next session: channel, socket, subscriptions."""

    reason: str


@dataclass(frozen=True)
class Rotate:
    """Replace the live session make-before-break: new channel, then drop the old.

    ``session`` names the session the request is about (a system frame read on
    it); the request is ignored once that session is no longer live. None
    means whichever session is live (a timer, a new token).
    """

    reason: str
    session: int | None = None


@dataclass(frozen=True)
class SocketLost:
    """A reader thread saw its socket close or fail."""

    session: int
    code: int | None
    reason: str


@dataclass(frozen=True)
class ChannelGone:
    """The socket received ``{"result": "404"}``: the channel no longer exists."""

    session: int


@dataclass(frozen=True)
class SocketClosing:
    """The server sent ``v2.system.socket_closing``: a close will follow."""

    session: int


@dataclass(frozen=True)
class Dead:
    """The HeartbeatActor found no frame and no pong in time."""

    session: int
    silence: float


@dataclass(frozen=True)
class StableCheck:
    """Timer: the session has stayed up long enough to reset the backoff."""

    session: int


@dataclass(frozen=True)
class TokenRotated:
    """The TokenActor has a new token, so channels made with the old one must rotate."""

    expires_at: float


# HeartbeatActor


@dataclass(frozen=True)
class Watch:
    """Start watching the liveness of one session."""

    channel: str
    session: int
    liveness: Any
    ping: Callable[[], None]
    connection: Any


@dataclass(frozen=True)
class Unwatch:
    channel: str
    session: int


@dataclass(frozen=True)
class ChannelStatus:
    """A ConnectionActor's report on its channel, for the health check."""

    channel: str
    live: bool
    permitted_topics: int
    rejected_topics: int


@dataclass(frozen=True)
class Tick:
    """Timer: check every watched session."""


# MergeActor and SinkActor


@dataclass(frozen=True)
class Observe:
    """One normalized observation of a conversation, for its MergeActor."""

    observation: Any


@dataclass(frozen=True)
class Rebase:
    """The stored state won a write conflict; the MergeActor adopts the joined state."""

    conversation_id: str
    state: Any


@dataclass(frozen=True)
class SetSink:
    """The SinkActor was restarted: send state changes to ``ref`` from now on."""

    ref: Any


@dataclass(frozen=True)
class StateChanged:
    """A merge changed a conversation: its new state and the messages to forward."""

    conversation_id: str
    shard: int
    state: Any
    messages: tuple[OutboundMessage, ...]
    received_at: float


@dataclass(frozen=True)
class Flush:
    """Timer or request: write pending states and send pending messages now."""

    final: bool = False


@dataclass(frozen=True)
class Drain:
    """Request: reply once every message sent before this one is handled."""


# Back-fill


@dataclass(frozen=True)
class Gap:
    """An interval (epoch seconds) in which a channel may have missed events."""

    channel: str
    start: float
    end: float
    reason: str = field(default="reconnect")


# Supervisor


@dataclass(frozen=True)
class ChildFailed:
    """An actor stopped on an exception; the Supervisor restarts it."""

    name: str
    error: str


@dataclass(frozen=True)
class Restart:
    name: str


@dataclass(frozen=True)
class Fatal:
    """A failure no restart can mend (rejected credentials): the service must stop."""

    name: str
    reason: str


def tell(ref: pykka.ActorRef[Any], message: Any) -> None:
    """Tell ``message`` to ``ref``, doing nothing if the actor has stopped.

    Timers and reader threads outlive the actor they report to during a
    shutdown or restart; a message to a stopped actor has no receiver.
    """
    with contextlib.suppress(pykka.ActorDeadError):
        ref.tell(message)


def teller(ref: pykka.ActorRef[Any], message: Any) -> Callable[[], None]:
    """Return a callback that tells ``message`` to ``ref``, for clock timers."""
    return lambda: tell(ref, message)


def ask(ref: pykka.ActorRef[Any], message: Any, timeout: float) -> Any:
    """Ask ``ref`` and wait up to ``timeout`` seconds for its reply."""
    return ref.ask(message, block=True, timeout=timeout)
