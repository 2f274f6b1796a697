"""HeartbeatActor: liveness of every session, and the service's health.

Any frame proves a socket alive. After ``silence`` seconds without one, the
actor sends the Genesys text ping. If nothing at all arrives within
``pong_timeout`` seconds of the ping, the session is dead, and the actor
sends ``Dead`` to its ConnectionActor, which reconnects. A pong that is merely slow (arriving
before the timeout) changes nothing.

The actor also keeps the health status that ``genesys-stream health`` reads
from ``health_file``: ready while at least one channel is live with a
permitted topic, unhealthy once a channel has been down longer than
``dead_budget`` seconds.
"""

from __future__ import annotations

import logging
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import pykka

from actors.messages import ChannelStatus, Dead, Tick, Unwatch, Watch, teller
from actors.session import Liveness
from genesys_stream.clock import Clock, Timer
from genesys_stream.metrics import Metrics

log = logging.getLogger(__name__)


@dataclass
class _Channel:
    live: bool = False
    permitted: int = 0
    rejected: int = 0
    down_since: float | None = None


class HeartbeatActor(pykka.ThreadingActor):
    """Pings silent sessions, declares dead ones, and writes the health status."""

    def __init__(
        self,
        *,
        clock: Clock,
        metrics: Metrics,
        silence: float = 35.0,
        pong_timeout: float = 10.0,
        dead_budget: float = 120.0,
        tick: float | None = None,
        health_file: Path | None = None,
    ) -> None:
        super().__init__()
        self.clock = clock
        self.metrics = metrics
        self.silence = silence
        self.pong_timeout = pong_timeout
        self.dead_budget = dead_budget
        # Check often enough that a dead socket is found within a tick of its deadline.
        self.tick = tick if tick is not None else max(0.5, min(silence, pong_timeout) / 4)
        self.health_file = health_file
        self.watched: dict[tuple[str, int], Watch] = {}
        self.channels: dict[str, _Channel] = {}
        self.timer: Timer | None = None
        self.started = clock.monotonic()
        self.stopped = False
        self.last_write_failure: float | None = None

    def on_start(self) -> None:
        self._schedule()

    def on_stop(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
        # A stopped service is not ready; it is not stuck either.
        self.stopped = True
        self._write_health()

    def on_receive(self, message: Any) -> Any:
        match message:
            case Watch(channel=channel, session=session):
                self.watched[(channel, session)] = message
            case Unwatch(channel=channel, session=session):
                self.watched.pop((channel, session), None)
            case ChannelStatus():
                self._status(message)
            case Tick():
                self._check()
                self._schedule()
            case "health":
                return self.health()
        return None

    def _schedule(self) -> None:
        self.timer = self.clock.call_later(self.tick, teller(self.actor_ref, Tick()))

    def _status(self, status: ChannelStatus) -> None:
        channel = self.channels.setdefault(status.channel, _Channel())
        if status.live:
            channel.down_since = None
        elif channel.down_since is None:
            channel.down_since = self.clock.monotonic()
        channel.live = status.live
        channel.permitted = status.permitted_topics
        channel.rejected = status.rejected_topics
        self.metrics.set_gauge("LiveChannels", sum(1 for c in self.channels.values() if c.live))
        self._write_health()

    def _check(self) -> None:
        now = self.clock.monotonic()
        oldest_frame_age = 0.0
        for watch in list(self.watched.values()):
            liveness: Liveness = watch.liveness
            last = liveness.last_frame if liveness.last_frame is not None else liveness.opened
            age = now - last
            oldest_frame_age = max(oldest_frame_age, age)
            if liveness.ping_sent is not None and last >= liveness.ping_sent:
                liveness.ping_sent = None  # a frame came after the ping: alive
            if liveness.ping_sent is not None:
                if now - liveness.ping_sent >= self.pong_timeout:
                    self.watched.pop((watch.channel, watch.session), None)
                    watch.connection.tell(Dead(watch.session, round(age, 3)))
            elif age >= self.silence:
                liveness.ping_sent = now
                log.debug("session.ping", extra={"channel": watch.channel, "silence": age})
                watch.ping()
        self.metrics.set_gauge("HeartbeatAge", round(oldest_frame_age, 3))
        self._write_health()

    def health(self) -> dict[str, Any]:
        """Return the health status: ``ready``, ``healthy`` and one entry per channel."""
        now = self.clock.monotonic()
        ready = any(c.live and c.permitted > 0 for c in self.channels.values())
        down_too_long = [
            name
            for name, c in self.channels.items()
            if c.down_since is not None and now - c.down_since > self.dead_budget
        ]
        never_up = not self.channels and now - self.started > self.dead_budget
        return {
            "time": self.clock.time(),
            "stopped": self.stopped,
            "ready": ready and not self.stopped,
            "healthy": not down_too_long and not never_up,
            "channels": {
                name: {
                    "live": c.live,
                    "permitted_topics": c.permitted,
                    "rejected_topics": c.rejected,
                    "down_for": None if c.down_since is None else round(now - c.down_since, 3),
                }
                for name, c in self.channels.items()
            },
        }

    def _write_health(self) -> None:
        if self.health_file is None:
            return
        data = orjson.dumps(self.health())
        # Write then rename, so the health command never reads half a file.
        directory = self.health_file.parent
        try:
            directory.mkdir(parents=True, exist_ok=True)
            fd, temporary = tempfile.mkstemp(dir=directory, prefix=".health-")
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
            os.replace(temporary, self.health_file)
        except OSError as exc:
            # Once a minute at most: every tick would fail the same way.
            now = self.clock.monotonic()
            if self.last_write_failure is None or now - self.last_write_failure >= 60.0:
                self.last_write_failure = now
                log.warning(
                    "health.write_failed",
                    extra={"path": str(self.health_file), "error": str(exc)},
                )
