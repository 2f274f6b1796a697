"""The service: builds the actors from configuration, starts and stops them.

Data flow::

    Genesys Cloud ──WebSocket──> ConnectionActor (reader thread)
                                   │ FrameRouter: parse, normalize, shard
                                   v
    REST (back-fill) ─> BackfillActor ─> MergeActor[shard] ─> SinkActor ─> DynamoDB / SQS
                                                                        (or SQLite / JSONL)
    TokenActor renews the OAuth token; HeartbeatActor pings silent sockets and
    keeps the health status; the Supervisor restarts failed actors.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pykka

from actors.backfill import BackfillActor
from actors.connection import ConnectionActor
from actors.heartbeat import HeartbeatActor
from actors.merge import MergeActor
from actors.messages import ChannelStatus, Drain, Flush, Gap, SetSink, ask, tell
from actors.router import FrameRouter
from actors.sink import SinkActor
from actors.supervisor import Supervisor, stop_in_order
from actors.token import Renew, Subscribe, TokenActor, TokenHolder, request_first_token
from genesys.auth import OAuthClient
from genesys.client import GenesysClient
from genesys.errors import AuthenticationError, GenesysError
from genesys.retry import RetryPolicy
from genesys_stream.clock import Clock
from genesys_stream.metrics import Metrics
from handlers.backoff import Backoff
from handlers.lifecycle import LIFECYCLE_EVENT_TYPES
from handlers.topics import split_topics
from stores.base import CheckpointStore, EventQueue, StateStore

log = logging.getLogger(__name__)


class StartupError(Exception):
    """The service could not start; the message gives the reason and the change to make."""


@dataclass
class Stores:
    """The stores the service writes to: states, events and back-fill checkpoints."""

    states: StateStore
    queue: EventQueue
    checkpoints: CheckpointStore | None = None
    spill_path: Path | None = None
    # States written at once per flush; above 1 only for stores safe across threads.
    write_concurrency: int = 1


@dataclass
class Settings:
    """Everything the service needs besides its stores and clock."""

    login_url: str
    api_url: str
    client_id: str
    client_secret: str = field(repr=False)
    topics: tuple[str, ...]
    forward_events: frozenset[str] = LIFECYCLE_EVENT_TYPES
    merge_shards: int = 4
    flush_interval: float = 1.0
    ttl_seconds: int = 30 * 86400
    heartbeat_silence: float = 35.0
    pong_timeout: float = 10.0
    dead_budget: float = 120.0
    health_file: Path | None = None
    backfill_lookback: float = 3600.0
    backfill_margin: float = 60.0
    region_domain: str | None = None


class Service:
    """One running genesys-stream process: its actors and how to stop them."""

    def __init__(
        self, settings: Settings, stores: Stores, clock: Clock, metrics: Metrics | None = None
    ) -> None:
        self.settings = settings
        self.stores = stores
        self.clock = clock
        self.metrics = metrics or Metrics()
        self.holder = TokenHolder()
        # The TokenActor and the BackfillActor own their retries (back-off that
        # keeps the actor responsive, Retry-After, failure counts), so their
        # clients send each request once.
        single_attempt = RetryPolicy(max_attempts=1)
        self.oauth = OAuthClient(
            settings.login_url,
            settings.client_id,
            settings.client_secret,
            clock,
            policy=single_attempt,
            region_domain=settings.region_domain,
        )
        self.client = GenesysClient(settings.api_url, self.holder, clock)
        self.backfill_client = GenesysClient(
            settings.api_url, self.holder, clock, policy=single_attempt
        )
        self.supervisor: pykka.ActorRef[Any] | None = None
        self.token: pykka.ActorRef[Any] | None = None
        self.heartbeat: pykka.ActorRef[Any] | None = None
        self.sink: pykka.ActorRef[Any] | None = None
        self.backfill: pykka.ActorRef[Any] | None = None
        self.merges: list[pykka.ActorRef[Any]] = []
        self.connections: list[pykka.ActorRef[Any]] = []
        self.router: FrameRouter | None = None
        self.stopped = False

    # Start-up, in dependency order: no message goes to an actor not yet started.

    def start(self) -> None:
        """Start every actor; raise ``StartupError`` if no token can be obtained."""
        s = self.settings

        # Step 1: the first token, on this thread, before any actor starts. A
        # bad credential stops start-up here with its reason; server and
        # network errors are retried a few times first.
        try:
            first = request_first_token(self.oauth, self.clock, Backoff(base=1.0, cap=10.0))
        except AuthenticationError as exc:
            raise StartupError(str(exc)) from None
        except GenesysError as exc:
            raise StartupError(
                f"Could not obtain an access token for OAuth client id {s.client_id!r} "
                f"from {s.login_url}: {exc}"
            ) from None
        self.holder.set(first)
        self.supervisor = Supervisor.start(clock=self.clock, on_replaced=self._replaced)
        self.token = self._child(
            "token",
            lambda: TokenActor.start(
                oauth=self.oauth,
                holder=self.holder,
                clock=self.clock,
                supervisor=self.supervisor,
                initial=self.holder.peek(),
            ),
        )

        # Step 2: the pipeline, from the stores inwards.
        # The sink keeps this list and reads it only on a write conflict, after
        # every MergeActor below has started.
        self.merges = []
        self.sink = self._child(
            "sink",
            lambda: SinkActor.start(
                states=self.stores.states,
                queue=self.stores.queue,
                checkpoints=self.stores.checkpoints,
                clock=self.clock,
                metrics=self.metrics,
                merges=self.merges,
                flush_interval=s.flush_interval,
                ttl_seconds=s.ttl_seconds,
                spill_path=self.stores.spill_path,
                supervisor=self.supervisor,
                write_concurrency=self.stores.write_concurrency,
            ),
        )
        for shard in range(s.merge_shards):
            self.merges.append(self._child(f"merge-{shard}", self._merge_factory(shard)))
        self.router = FrameRouter(self.merges, self.metrics)

        # Step 3: liveness, back-fill, and the channels.
        self.heartbeat = self._child(
            "heartbeat",
            lambda: HeartbeatActor.start(
                clock=self.clock,
                metrics=self.metrics,
                silence=s.heartbeat_silence,
                pong_timeout=s.pong_timeout,
                dead_budget=s.dead_budget,
                health_file=s.health_file,
            ),
        )
        self.backfill = self._child(
            "backfill",
            lambda: BackfillActor.start(
                client=self.backfill_client,
                router=self._router(),
                clock=self.clock,
                metrics=self.metrics,
                margin=s.backfill_margin,
                supervisor=self.supervisor,
            ),
        )
        startup_gap = self._startup_gap_start()
        for index, topics in enumerate(split_topics(s.topics)):
            name = f"channel-{index}"
            # Down until its first session is subscribed, so a channel that never
            # comes up counts against the dead budget of the health check.
            self.heartbeat.tell(ChannelStatus(name, False, 0, 0))
            gap_start = startup_gap if index == 0 else None
            ref = self._child(name, self._connection_factory(name, topics, gap_start))
            self.connections.append(ref)
            self.token.tell(Subscribe(ref))
        log.info(
            "service.started",
            extra={
                "channels": len(self.connections),
                "topics": len(s.topics),
                "merge_shards": s.merge_shards,
            },
        )

    def _child(self, name: str, factory: Any) -> pykka.ActorRef[Any]:
        assert self.supervisor is not None
        ref: pykka.ActorRef[Any] = ask(self.supervisor, ("start", name, factory), 30.0)
        return ref

    def _router(self) -> FrameRouter:
        assert self.router is not None
        return self.router

    def _merge_factory(self, shard: int) -> Any:
        def start() -> pykka.ActorRef[Any]:
            assert self.sink is not None
            return MergeActor.start(
                shard=shard,
                sink=self.sink,
                metrics=self.metrics,
                forward_events=self.settings.forward_events,
                supervisor=self.supervisor,
            )

        return start

    def _connection_factory(
        self, name: str, topics: tuple[str, ...], gap_start: float | None
    ) -> Any:
        first = [True]

        def start() -> pykka.ActorRef[Any]:
            assert self.heartbeat is not None
            # A restarted actor had no socket since its predecessor failed: the
            # gap it back-fills starts now at the latest.
            initial_gap = gap_start if first[0] else self.clock.time()
            first[0] = False
            return ConnectionActor.start(
                name=name,
                topics=topics,
                client=self.client,
                clock=self.clock,
                router=self._router(),
                heartbeat=self.heartbeat,
                backfill=self.backfill,
                renew_token=self._renew_token,
                supervisor=self.supervisor,
                metrics=self.metrics,
                gap_start=initial_gap,
            )

        return start

    def _renew_token(self) -> None:
        """Ask the TokenActor for a new token now (the current one was revoked)."""
        if self.token is not None:
            tell(self.token, Renew())

    def _replaced(self, name: str, ref: pykka.ActorRef[Any]) -> None:
        """Called by the Supervisor after a restart: point the others at the new actor."""
        if name.startswith("merge-"):
            shard = int(name.removeprefix("merge-"))
            self.merges[shard] = ref
            self._router().replace_merge(shard, ref)
        elif name.startswith("channel-"):
            index = int(name.removeprefix("channel-"))
            self.connections[index] = ref
            if self.token is not None:
                self.token.tell(Subscribe(ref))
        elif name == "sink":
            self.sink = ref
            for merge in self.merges:
                tell(merge, SetSink(ref))
            # What the old sink held but had not written is back-filled from the
            # checkpoint, which only moves past written changes.
            start = self._startup_gap_start()
            if self.backfill is not None and start is not None:
                tell(self.backfill, Gap("sink", start, self.clock.time(), "sink restarted"))
        elif name == "heartbeat":
            self.heartbeat = ref
        elif name == "backfill":
            self.backfill = ref
        elif name == "token":
            self.token = ref
            for connection in self.connections:
                ref.tell(Subscribe(connection))

    def _startup_gap_start(self) -> float | None:
        """Return where start-up back-fill begins: the checkpoint, or the look-back."""
        checkpoint = None
        if self.stores.checkpoints is not None:
            try:
                checkpoint = self.stores.checkpoints.get_checkpoint("stream")
            except Exception as exc:  # a missing checkpoint only widens the back-fill
                log.warning("checkpoint.read_failed", extra={"error": str(exc)})
        if checkpoint is not None:
            return checkpoint
        if self.settings.backfill_lookback <= 0:
            return None
        return self.clock.time() - self.settings.backfill_lookback

    # Running and stopping.

    def drain(self, timeout: float = 10.0) -> dict[str, int]:
        """Wait until every observation sent so far is merged and flushed.

        Returns the sink's backlog after the flush: all zeros when every
        accepted change is stored and delivered.
        """
        for ref in self.merges:
            ask(ref, Drain(), timeout)
        assert self.sink is not None
        backlog: dict[str, int] = ask(self.sink, Flush(final=True), timeout)
        return backlog

    def fatal(self) -> str | None:
        """Return why the service must stop (bad credentials), or None while it may run."""
        if self.supervisor is None or not self.supervisor.is_alive():
            return None
        try:
            reason: str | None = ask(self.supervisor, "fatal", 5.0)
        except (pykka.Timeout, pykka.ActorDeadError):
            return None
        return reason

    def token_stats(self, timeout: float = 5.0) -> dict[str, Any]:
        """Return the token counts: renewals, failed requests, rejection, expiry."""
        assert self.token is not None
        stats: dict[str, Any] = ask(self.token, "stats", timeout)
        return stats

    def backfill_stats(self, timeout: float = 5.0) -> dict[str, Any]:
        """Return the back-fill counts: gaps done, failures, longest gap in seconds."""
        assert self.backfill is not None
        stats: dict[str, Any] = ask(self.backfill, "stats", timeout)
        return stats

    def health(self, timeout: float = 5.0) -> dict[str, Any]:
        assert self.heartbeat is not None
        health: dict[str, Any] = ask(self.heartbeat, "health", timeout)
        return health

    def stop(self, timeout: float = 25.0) -> dict[str, int] | None:
        """Stop readers, flush what was accepted, stop every actor."""
        if self.stopped:
            return None
        self.stopped = True
        producers = [*self.connections, *([self.backfill] if self.backfill else [])]
        others = [ref for ref in (self.heartbeat, self.token) if ref is not None]
        backlog = stop_in_order(producers, self.merges, self.sink, others, timeout)
        if self.supervisor is not None:
            self.supervisor.stop(block=True, timeout=5.0)
        # Anything left (an actor that ignored its stop) must not keep the process alive.
        pykka.ActorRegistry.stop_all(block=True, timeout=5.0)
        log.info("service.stopped", extra={"backlog": backlog})
        return backlog


__all__ = ["GenesysError", "Service", "Settings", "StartupError", "Stores"]
