"""Fault injection: what a chaos run or a test can make the simulated org do wrong.

``FaultControl`` is the one switchboard, used in process (``sim.faults``) and
over HTTP (``POST /sim/control/<fault>``). Socket faults act on the live
sockets through ``SocketServer``; HTTP faults are rules that the request
handler consults before it routes a request. ``counts`` reports how many times
each kind of fault was applied (a socket dropped, a frame sent, a response
failed), so a test can check that its fault happened.
"""

from __future__ import annotations

import logging
import re
import threading
from collections import Counter
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from simulator.websocket import SocketServer

log = logging.getLogger(__name__)


class ChannelFaults(Protocol):
    """Faults that change the org's state, not only its sockets (the ``Simulator``)."""

    def evict(self, channel_id: str) -> bool:
        """Remove one channel; return False if it did not exist."""

    def revoke_tokens(self) -> int:
        """Revoke every token; return how many channels went with them."""

    def unsubscribe(self, channel_id: str | None) -> list[str]:
        """Drop the subscriptions of one channel, or all; return the channel ids."""


class FaultCounter:
    """Thread-safe counts of injected faults, by kind."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: Counter[str] = Counter()

    def record(self, kind: str, times: int = 1) -> None:
        if times <= 0:
            return
        with self._lock:
            self._counts[kind] += times

    def snapshot(self) -> dict[str, int]:
        with self._lock:
            return dict(self._counts)


@dataclass
class FailRule:
    """Fail the next ``remaining`` requests matching ``method`` and ``pattern``."""

    method: str
    pattern: re.Pattern[str]
    remaining: int
    status: int
    retry_after: float | None


@dataclass(frozen=True)
class Failure:
    status: int
    retry_after: float | None


def compile_path_pattern(pattern: str) -> re.Pattern[str]:
    """Compile a path pattern: ``*`` matches within one path segment, ``**`` across segments."""
    pieces = []
    for part in re.split(r"(\*\*|\*)", pattern):
        if part == "**":
            pieces.append(".*")
        elif part == "*":
            pieces.append("[^/]*")
        else:
            pieces.append(re.escape(part))
    return re.compile("".join(pieces))


class FaultControl:
    """Inject socket and HTTP faults; every method is safe to call from any thread."""

    def __init__(
        self, sockets: SocketServer, counter: FaultCounter, channels: ChannelFaults
    ) -> None:
        self._sockets = sockets
        self._counter = counter
        self._channels = channels
        self._lock = threading.Lock()
        self._rules: list[FailRule] = []

    @property
    def counts(self) -> dict[str, int]:
        return self._counter.snapshot()

    # Sockets

    def drop_sockets(self, channel_id: str | None = None) -> int:
        """Cut the TCP connection without a close frame, so the client sees 1006."""
        dropped = self._sockets.abort(channel_id)
        self._counter.record("drop_sockets", dropped)
        log.info("fault.drop_sockets", extra={"channel_id": channel_id, "sockets": dropped})
        return dropped

    def close_sockets(self, code: int = 1001, channel_id: str | None = None) -> int:
        """Close sockets with a close frame carrying ``code``."""
        closed = self._sockets.close(code, channel_id)
        self._counter.record("close_sockets", closed)
        log.info(
            "fault.close_sockets", extra={"channel_id": channel_id, "code": code, "sockets": closed}
        )
        return closed

    def stop_heartbeats(self, channel_id: str | None = None) -> None:
        """Stop heartbeat frames (all channels, also those created later, when None)."""
        self._sockets.stop_heartbeats(channel_id)
        self._counter.record("stop_heartbeats")
        log.info("fault.stop_heartbeats", extra={"channel_id": channel_id})

    def resume_heartbeats(self, channel_id: str | None = None) -> None:
        self._sockets.resume_heartbeats(channel_id)
        log.info("fault.resume_heartbeats", extra={"channel_id": channel_id})

    def delay_pongs(self, seconds: float) -> None:
        """Send each pong ``seconds`` later on the simulator clock (0 restores prompt pongs)."""
        if seconds < 0:
            raise ValueError(f"A pong delay must be 0 or more seconds, not {seconds}.")
        self._sockets.pong_delay = float(seconds)
        log.info("fault.delay_pongs", extra={"seconds": seconds})

    def drop_pongs(self, enabled: bool = True) -> None:
        """Send no pong while ``enabled``."""
        self._sockets.pongs_dropped = enabled
        log.info("fault.drop_pongs", extra={"enabled": enabled})

    def send_socket_closing(
        self, channel_id: str | None = None, close_after: float | None = None
    ) -> int:
        """Send the ``v2.system.socket_closing`` warning.

        With ``close_after`` (seconds on the simulator clock) the warned sockets
        are closed with 1000 that much later, as maintenance does; without it
        they stay open.
        """
        warned = self._sockets.send_socket_closing(channel_id, close_after)
        self._counter.record("send_socket_closing", warned)
        log.info(
            "fault.send_socket_closing",
            extra={"channel_id": channel_id, "sockets": warned, "close_after": close_after},
        )
        return warned

    def send_404(self, channel_id: str | None = None) -> int:
        """Send a ``{"result": "404"}`` frame; the channel itself stays."""
        sent = self._sockets.send_not_found(channel_id)
        self._counter.record("send_404", sent)
        log.info("fault.send_404", extra={"channel_id": channel_id, "sockets": sent})
        return sent

    def evict_channel(self, channel_id: str) -> bool:
        """Remove the channel: HEAD returns 404 and its socket gets a 404 frame."""
        evicted = self._channels.evict(channel_id)
        if evicted:
            self._counter.record("evict_channel")
        log.info("fault.evict_channel", extra={"channel_id": channel_id, "evicted": evicted})
        return evicted

    def send_no_longer_subscribed(
        self, channel_id: str | None = None, reason: str = "subscription_changed"
    ) -> int:
        """Drop the channel's subscriptions and send ``v2.system.no_longer_subscribed.<id>``."""
        sent = 0
        for unsubscribed in self._channels.unsubscribe(channel_id):
            sent += self._sockets.send_no_longer_subscribed(unsubscribed, reason)
        self._counter.record("send_no_longer_subscribed", sent)
        log.info(
            "fault.send_no_longer_subscribed", extra={"channel_id": channel_id, "sockets": sent}
        )
        return sent

    def revoke_tokens(self) -> int:
        """Revoke every token: API calls get 401, each socket a ``token_revoked`` frame."""
        removed = self._channels.revoke_tokens()
        self._counter.record("revoke_tokens")
        log.info("fault.revoke_tokens", extra={"channels": removed})
        return removed

    # HTTP

    def fail_next(
        self,
        method: str,
        path: str,
        count: int = 1,
        status: int = 503,
        retry_after: float | None = None,
    ) -> None:
        """Fail the next ``count`` matching requests with ``status``.

        ``method`` is an HTTP method or ``*``. ``path`` is matched against the
        request path without its query string: ``*`` matches within one path
        segment, ``**`` across segments. ``retry_after`` (seconds) is sent as
        the ``Retry-After`` header. Rules apply in the order they were added.
        """
        if count < 1:
            raise ValueError(f"fail_next needs a count of 1 or more, not {count}.")
        if not 400 <= status <= 599:
            raise ValueError(f"fail_next needs a 4xx or 5xx status, not {status}.")
        rule = FailRule(method.upper(), compile_path_pattern(path), count, status, retry_after)
        with self._lock:
            self._rules.append(rule)
        log.info(
            "fault.fail_next",
            extra={"method": method, "path": path, "count": count, "status": status},
        )

    def take_failure(self, method: str, path: str) -> Failure | None:
        """Consume one matching rule and return its failure, or None when no rule matches."""
        with self._lock:
            for rule in self._rules:
                if rule.method in ("*", method) and rule.pattern.fullmatch(path):
                    rule.remaining -= 1
                    if rule.remaining == 0:
                        self._rules.remove(rule)
                    failure = Failure(rule.status, rule.retry_after)
                    break
            else:
                return None
        self._counter.record("fail_next")
        return failure
