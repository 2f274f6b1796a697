"""SinkActor: conversation states to the state store, events to the queue.

Changes gather for ``flush_interval`` seconds; then each changed
conversation is written once (however many merges it went through) and the
messages go out in batches. States are written before messages, so a
consumer that reads a message and then looks the conversation up finds a
state at least as new.

Writes are conditional on the revision this actor last stored. When another
writer got there first, the stored state and ours are joined, written over
the stored revision, and the joined state goes back to the MergeActor.

Nothing accepted is dropped: a failed write stays pending, undelivered
messages are retried at the next flush, and past ``max_outbox`` messages the
oldest are spilled to a file and read back once the queue accepts again, so
memory stays bounded while AWS is down.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import pykka

from actors.messages import ChildFailed, Drain, Flush, Rebase, StateChanged, teller
from genesys_stream.clock import Clock, Timer
from genesys_stream.metrics import Metrics
from handlers.merge import ConversationState, join_states, with_revision
from handlers.records import decode_state, encode_state
from stores.base import (
    CheckpointStore,
    EventQueue,
    OutboundMessage,
    RevisionConflict,
    StateStore,
)
from stores.errors import DeliveryError, StoreError

log = logging.getLogger(__name__)

CHECKPOINT_SHARD = "stream"


@dataclass
class _Pending:
    shard: int
    state: ConversationState
    received_at: float


class SinkActor(pykka.ThreadingActor):
    """Coalesces, writes and forwards; keeps the back-fill checkpoint."""

    def __init__(
        self,
        *,
        states: StateStore,
        queue: EventQueue,
        checkpoints: CheckpointStore | None,
        clock: Clock,
        metrics: Metrics,
        merges: list[pykka.ActorRef[Any]],
        flush_interval: float = 1.0,
        ttl_seconds: int = 30 * 86400,
        max_outbox: int = 50_000,
        spill_path: Path | None = None,
        checkpoint_interval: float = 30.0,
        supervisor: pykka.ActorRef[Any] | None = None,
    ) -> None:
        super().__init__()
        self.states = states
        self.queue = queue
        self.checkpoints = checkpoints
        self.clock = clock
        self.metrics = metrics
        self.merges = merges
        self.flush_interval = flush_interval
        self.ttl_seconds = ttl_seconds
        self.max_outbox = max_outbox
        self.spill_path = spill_path
        self.checkpoint_interval = checkpoint_interval
        self.supervisor = supervisor

        self.pending: dict[str, _Pending] = {}
        self.stored: dict[str, int] = {}
        self.outbox: list[OutboundMessage] = []
        self.spilled = 0
        self.timer: Timer | None = None
        self.last_checkpoint = clock.monotonic()
        self.writes = 0
        self.forwarded = 0

    def on_start(self) -> None:
        if self.spill_path is not None and self.spill_path.exists():
            self.spilled = sum(1 for _ in self.spill_path.open("rb"))
        self._schedule()

    def on_stop(self) -> None:
        if self.timer is not None:
            self.timer.cancel()

    def on_failure(self, exception_type: Any, exception_value: Any, traceback: Any) -> None:
        if self.supervisor is not None:
            self.supervisor.tell(ChildFailed("sink", repr(exception_value)))

    def on_receive(self, message: Any) -> Any:
        match message:
            case StateChanged():
                self._accept(message)
            case Flush(final=final):
                self._flush()
                if not final:
                    self._schedule()
                return self.backlog()
            case Drain():
                return self.backlog()
            case "stats":
                return {"writes": self.writes, "forwarded": self.forwarded, **self.backlog()}
        return None

    def backlog(self) -> dict[str, int]:
        """Return what is still waiting: states, messages in memory, spilled messages."""
        return {"states": len(self.pending), "messages": len(self.outbox), "spilled": self.spilled}

    def _schedule(self) -> None:
        self.timer = self.clock.call_later(self.flush_interval, teller(self.actor_ref, Flush()))

    def _accept(self, change: StateChanged) -> None:
        earlier = self.pending.get(change.conversation_id)
        received_at = change.received_at if earlier is None else earlier.received_at
        self.pending[change.conversation_id] = _Pending(change.shard, change.state, received_at)
        self.outbox.extend(change.messages)
        self.metrics.increment("EventsAccepted", len(change.messages))
        overflow = len(self.outbox) - self.max_outbox
        # NOTE: without a spill file the outbox grows past max_outbox rather than drop.
        if overflow > 0 and self.spill_path is not None:
            self._spill(self.outbox[:overflow])
            del self.outbox[:overflow]

    # Flushing: states first, then messages, then the checkpoint.

    def _flush(self) -> None:
        started = self.clock.monotonic()
        for conversation_id in list(self.pending):
            pending = self.pending[conversation_id]
            try:
                self._write(conversation_id, pending)
            except StoreError as exc:
                log.warning(
                    "state.write_failed",
                    extra={"conversation_id": conversation_id, "error": str(exc)},
                )
                break
            del self.pending[conversation_id]

        self._unspill()
        if self.outbox:
            batch, self.outbox = self.outbox, []
            try:
                self.queue.send(batch)
                delivered = len(batch)
            except DeliveryError as exc:
                failed = list(exc.failed)
                delivered = len(batch) - len(failed)
                self.outbox = failed + self.outbox
                self.metrics.increment("DeliveryFailures", len(failed))
                log.warning(
                    "events.delivery_failed",
                    extra={"failed": len(failed), "delivered": delivered, "error": str(exc)},
                )
            self.forwarded += delivered
            self.metrics.increment("EventsForwarded", delivered)

        self.metrics.observe("SinkLatency", round((self.clock.monotonic() - started) * 1000, 3))
        self._checkpoint()

    def _write(self, conversation_id: str, pending: _Pending) -> None:
        now = self.clock.time()
        state = pending.state
        expected = self.stored.get(conversation_id)
        record = encode_state(state, updated_at=now, ttl_seconds=self.ttl_seconds)
        try:
            self.states.save(record, expected_revision=expected)
        except RevisionConflict as conflict:
            self.metrics.increment("MergeConflicts")
            current = conflict.current
            if current is None:
                state = with_revision(state, max(state.revision, 1))
                record = encode_state(state, updated_at=now, ttl_seconds=self.ttl_seconds)
                self.states.save(record, expected_revision=None)
            else:
                joined = join_states(decode_state(current), state)
                state = with_revision(joined, current.revision + 1)
                record = encode_state(state, updated_at=now, ttl_seconds=self.ttl_seconds)
                self.states.save(record, expected_revision=current.revision)
            # The actor that merged this conversation continues from the joined state.
            self.merges[pending.shard].tell(Rebase(conversation_id, state))
        self.stored[conversation_id] = record.revision
        self.writes += 1
        self.metrics.observe(
            "DeliveryLag", round((self.clock.time() - pending.received_at) * 1000, 3)
        )

    def _checkpoint(self) -> None:
        if self.checkpoints is None:
            return
        now = self.clock.monotonic()
        if now - self.last_checkpoint < self.checkpoint_interval:
            return
        self.last_checkpoint = now
        # Everything received before the oldest unwritten change is stored.
        oldest = min((p.received_at for p in self.pending.values()), default=self.clock.time())
        try:
            self.checkpoints.put_checkpoint(CHECKPOINT_SHARD, oldest)
        except StoreError as exc:
            log.warning("checkpoint.write_failed", extra={"error": str(exc)})

    # Spilling: the oldest undelivered messages wait on disk, not in memory.

    def _spill(self, messages: Sequence[OutboundMessage]) -> None:
        assert self.spill_path is not None
        self.spill_path.parent.mkdir(parents=True, exist_ok=True)
        with self.spill_path.open("ab") as handle:
            for message in messages:
                handle.write(
                    orjson.dumps(
                        {
                            "conversationId": message.conversation_id,
                            "type": message.event_type,
                            "body": message.body.decode(),
                            "deduplicationId": message.deduplication_id,
                            "attributes": message.attributes,
                        }
                    )
                    + b"\n"
                )
        self.spilled += len(messages)
        log.warning("events.spilled", extra={"count": len(messages), "spilled": self.spilled})

    def _unspill(self) -> None:
        if not self.spilled or self.spill_path is None or len(self.outbox) >= self.max_outbox:
            return
        lines = self.spill_path.read_bytes().splitlines()
        room = self.max_outbox - len(self.outbox)
        restored = [
            OutboundMessage(
                conversation_id=item["conversationId"],
                event_type=item["type"],
                body=item["body"].encode(),
                deduplication_id=item["deduplicationId"],
                attributes=item["attributes"],
            )
            for item in map(orjson.loads, lines[:room])
        ]
        rest = lines[room:]
        temporary = self.spill_path.with_suffix(".tmp")
        temporary.write_bytes(b"".join(line + b"\n" for line in rest))
        os.replace(temporary, self.spill_path)
        self.spilled = len(rest)
        # Spilled messages are older than anything in memory: they go first.
        self.outbox[:0] = restored
