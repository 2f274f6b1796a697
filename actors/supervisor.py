"""Supervisor: starts every actor, restarts the ones that fail, stops them in order.

Pykka has no supervision of its own and a stopped actor cannot be restarted,
so each child is built by a factory kept here; when a child fails, its
``on_failure`` tells ``ChildFailed`` and the Supervisor starts a fresh one
from the factory after a back-off. A failure that no restart can mend (the
token endpoint rejecting the credentials) arrives as ``Fatal`` and stops the
whole service instead; ``fatal`` carries the reason for the exit message.

Stopping (SIGTERM from ECS) goes producers first: connections close so no
new frame arrives and the back-fill stops, the MergeActors drain their
inboxes, the SinkActor flushes everything it accepted, and only then does
each remaining actor stop.
"""

from __future__ import annotations

import contextlib
import logging
import random
import threading
from collections.abc import Callable
from typing import Any

import pykka

from actors.messages import ChildFailed, Drain, Fatal, Flush, Restart, ask, teller
from genesys_stream.clock import Clock
from handlers.backoff import Backoff

log = logging.getLogger(__name__)

Factory = Callable[[], pykka.ActorRef[Any]]


class Supervisor(pykka.ThreadingActor):
    """Owns the children's factories and refs."""

    def __init__(
        self,
        *,
        clock: Clock,
        on_replaced: Callable[[str, pykka.ActorRef[Any]], None] | None = None,
        backoff: Backoff | None = None,
    ) -> None:
        super().__init__()
        self.clock = clock
        self.on_replaced = on_replaced
        self.backoff = backoff or Backoff(base=1.0, cap=30.0, rng=random.Random())
        self.factories: dict[str, Factory] = {}
        self.children: dict[str, pykka.ActorRef[Any]] = {}
        self.restarts: dict[str, int] = {}
        self.fatal: str | None = None
        self.stopped = threading.Event()

    def on_receive(self, message: Any) -> Any:
        match message:
            case ("start", str(name), factory):
                self.factories[name] = factory
                self.children[name] = factory()
                return self.children[name]
            case Fatal(name=name, reason=reason):
                self._fatal(name, reason)
            case ChildFailed(name=name, error=error):
                self._failed(name, error)
            case Restart(name=name):
                self._restart(name)
            case "fatal":
                return self.fatal
        return None

    def _fatal(self, name: str, reason: str) -> None:
        if self.fatal is None:
            self.fatal = reason
            log.error("service.fatal", extra={"child": name, "error": reason})
        self.stopped.set()

    def _failed(self, name: str, error: str) -> None:
        if self.stopped.is_set():
            return
        attempt = self.restarts.get(name, 0)
        self.restarts[name] = attempt + 1
        delay = self.backoff.delay(attempt)
        log.error(
            "actor.failed",
            extra={"child": name, "error": error, "restart_in": round(delay, 3)},
        )
        self.clock.call_later(delay, teller(self.actor_ref, Restart(name)))

    def _restart(self, name: str) -> None:
        factory = self.factories.get(name)
        if factory is None or self.stopped.is_set():
            return
        old = self.children.get(name)
        if old is not None and old.is_alive():
            old.stop(block=False)
        self.children[name] = factory()
        log.info("actor.restarted", extra={"child": name, "restarts": self.restarts[name]})
        if self.on_replaced is not None:
            self.on_replaced(name, self.children[name])


def stop_in_order(
    producers: list[pykka.ActorRef[Any]],
    merges: list[pykka.ActorRef[Any]],
    sink: pykka.ActorRef[Any] | None,
    others: list[pykka.ActorRef[Any]],
    timeout: float,
) -> dict[str, int] | None:
    """Stop the producers, drain merges, flush the sink, then stop the rest.

    ``producers`` are the actors that tell observations to the MergeActors
    (connections, back-fill): once they stop, nothing new is accepted, so the
    drain and the final flush cover everything. ``timeout`` (seconds) is
    shared among the four steps. Returns the sink's backlog after the final
    flush (all zeros when everything accepted was stored), or None when there
    was no sink or it did not reply in time.
    """
    per_step = max(1.0, timeout / 4)
    for ref in producers:
        _stop(ref, per_step)
    for ref in merges:
        try:
            ask(ref, Drain(), per_step)
        except (pykka.Timeout, pykka.ActorDeadError):
            log.warning("merge.drain_timeout", extra={"actor": ref.actor_urn})
    backlog: dict[str, int] | None = None
    if sink is not None:
        try:
            backlog = ask(sink, Flush(final=True), per_step)
        except (pykka.Timeout, pykka.ActorDeadError):
            log.error("sink.flush_timeout")
    for ref in [*merges, *([sink] if sink else []), *others]:
        _stop(ref, per_step)
    return backlog


def _stop(ref: pykka.ActorRef[Any], timeout: float) -> None:
    with contextlib.suppress(pykka.Timeout, pykka.ActorDeadError):
        ref.stop(block=True, timeout=timeout)
