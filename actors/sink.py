"""SinkActor: conversation states to the state store, events to the queue.

Changes gather for ``flush_interval`` seconds; then each changed
conversation is written once (however many merges it went through) and the
messages go out in batches. States are written before messages, so a
consumer that reads a message and then looks the conversation up finds a
state at least as new.

With ``write_concurrency`` above 1, a flush writes that many states at a
time on a thread pool, so the flush takes about one store round trip per
``write_concurrency`` changed conversations instead of one per conversation.
The store must then be safe to call from several threads.

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
import threading
from collections import OrderedDict
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
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
    StateRecord,
    StateStore,
)
from stores.errors import DeliveryError, StateWriteError, StoreError

log = logging.getLogger(__name__)

CHECKPOINT_SHARD = "stream"
# Conditional writes of one conversation per flush before it waits for the next flush.
_WRITE_ATTEMPTS = 5
# Joined states remembered; a conversation that falls out is reloaded on a stale write.
_REBASED_KEPT = 10_000


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
        write_concurrency: int = 1,
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
        if write_concurrency < 1:
            raise ValueError(f"write_concurrency must be 1 or more, got {write_concurrency}.")
        self.write_concurrency = write_concurrency
        self.write_pool: ThreadPoolExecutor | None = None

        self.pending: dict[str, _Pending] = {}
        self.stored: dict[str, int] = {}
        # States written after a join and sent back to their MergeActor, which
        # may merge more changes before it applies them; writes join them in.
        self.rebased: OrderedDict[str, ConversationState] = OrderedDict()
        self.rebased_lock = threading.Lock()
        self.outbox: list[OutboundMessage] = []
        self.spilled = 0
        self.timer: Timer | None = None
        self.last_checkpoint = clock.monotonic()
        self.writes = 0
        self.last_failure_log: float | None = None
        self.forwarded = 0

    def on_start(self) -> None:
        if self.spill_path is not None and self.spill_path.exists():
            self.spilled = sum(1 for _ in self.spill_path.open("rb"))
        if self.write_concurrency > 1:
            self.write_pool = ThreadPoolExecutor(self.write_concurrency, "sink-write")
        self._schedule()

    def on_stop(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
        if self.write_pool is not None:
            self.write_pool.shutdown(wait=True)

    def on_failure(self, exception_type: Any, exception_value: Any, traceback: Any) -> None:
        if self.supervisor is not None:
            self.supervisor.tell(ChildFailed("sink", repr(exception_value)))

    def on_receive(self, message: Any) -> Any:
        match message:
            case StateChanged():
                self._accept(message)
            case Flush(final=final):
                # Scheduled first, so flushes start every flush_interval however long one takes.
                if not final:
                    self._schedule()
                self._flush()
                if final:
                    self._set_aside()
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
        if overflow > 0 and self.spill_path is not None and self._spill(self.outbox[:overflow]):
            del self.outbox[:overflow]

    # Flushing: states first, then messages, then the checkpoint.

    def _flush(self) -> None:
        started = self.clock.monotonic()
        if self.write_pool is None:
            self._write_in_turn()
        else:
            self._write_concurrently(self.write_pool)

        self._unspill()
        if self.outbox:
            self._deliver()

        self.metrics.observe("SinkLatency", round((self.clock.monotonic() - started) * 1000, 3))
        self._checkpoint()

    def _deliver(self) -> None:
        batch, self.outbox = self.outbox, []
        try:
            self.queue.send(batch)
            delivered = len(batch)
        except DeliveryError as exc:
            # Messages the queue can never take go to the dead-letter file; the
            # rest are retried at the next flush, oldest first.
            permanent = {id(message) for message in exc.permanent}
            retry = [message for message in exc.failed if id(message) not in permanent]
            delivered = len(batch) - len(exc.failed)
            self.outbox = retry + self.outbox
            if exc.permanent:
                self._dead_letter(exc.permanent, exc.reasons)
            self.metrics.increment("DeliveryFailures", len(exc.failed))
            self._log_delivery_failure(len(exc.failed), delivered, exc)
        except StoreError as exc:
            # A missing queue or denied access needs a human: keep every message.
            delivered = 0
            self.outbox = batch + self.outbox
            self.metrics.increment("DeliveryFailures", len(batch))
            self._log_delivery_failure(len(batch), 0, exc)
        self.forwarded += delivered
        self.metrics.increment("EventsForwarded", delivered)

    def _log_delivery_failure(self, failed: int, delivered: int, exc: StoreError) -> None:
        # One line per minute of clock time at most: an outage fails every flush.
        now = self.clock.monotonic()
        if self.last_failure_log is not None and now - self.last_failure_log < 60.0:
            return
        self.last_failure_log = now
        log.error(
            "events.delivery_failed",
            extra={
                "failed": failed,
                "delivered": delivered,
                "waiting": len(self.outbox) + self.spilled,
                "error": str(exc),
            },
        )

    def _dead_letter(self, messages: Sequence[OutboundMessage], reasons: dict[str, str]) -> None:
        for message in messages:
            log.error(
                "events.rejected",
                extra={
                    "conversation_id": message.conversation_id,
                    "deduplication_id": message.deduplication_id,
                    "reason": reasons.get(message.deduplication_id, "rejected by the queue"),
                },
            )
        if self.spill_path is None:
            return
        path = self.spill_path.with_name("dead-letter.jsonl")
        try:
            with path.open("ab") as handle:
                for message in messages:
                    handle.write(_spill_line(message))
        except OSError as exc:
            # The log lines above already name every rejected message.
            log.error("events.dead_letter_failed", extra={"path": str(path), "error": str(exc)})

    def _write_in_turn(self) -> None:
        for conversation_id in list(self.pending):
            pending = self.pending[conversation_id]
            try:
                self._write(conversation_id, pending)
            except StoreError as exc:
                self._write_failed(conversation_id, exc)
                break
            except Exception as exc:
                self._unwritable(conversation_id, exc)
                continue
            del self.pending[conversation_id]
            self.writes += 1

    def _write_concurrently(self, pool: ThreadPoolExecutor) -> None:
        # Every write of this flush is attempted; a failed one stays pending.
        futures = [
            (conversation_id, pool.submit(self._write, conversation_id, pending))
            for conversation_id, pending in self.pending.items()
        ]
        for conversation_id, future in futures:
            try:
                future.result()
            except StoreError as exc:
                self._write_failed(conversation_id, exc)
                continue
            except Exception as exc:
                self._unwritable(conversation_id, exc)
                continue
            del self.pending[conversation_id]
            self.writes += 1

    def _unwritable(self, conversation_id: str, exc: Exception) -> None:
        """Drop a state that cannot be encoded or stored at all, so it blocks nothing else.

        This is a bug (the merge must only produce encodable states); the
        conversation's next change or a back-fill writes it again.
        """
        log.error(
            "state.unwritable",
            extra={
                "conversation_id": conversation_id,
                "error_type": type(exc).__name__,
                "error": str(exc),
            },
        )
        self.metrics.increment("MergeErrors")
        self.pending.pop(conversation_id, None)

    @staticmethod
    def _write_failed(conversation_id: str, exc: StoreError) -> None:
        log.warning(
            "state.write_failed", extra={"conversation_id": conversation_id, "error": str(exc)}
        )

    def _write(self, conversation_id: str, pending: _Pending) -> None:
        now = self.clock.time()
        state = pending.state
        expected = self.stored.get(conversation_id)
        with self.rebased_lock:
            rebased = self.rebased.get(conversation_id)
        if rebased is not None:
            # The MergeActor may have merged this change before the Rebase of an
            # earlier conflict reached it, so its state may lack what that join added.
            # NOTE: the messages of such a merge keep the MergeActor's revision,
            # which can repeat one already forwarded.
            state = join_states(rebased, state)
        if expected is not None and state.revision <= expected:
            if rebased is None:
                state = _joined(state, self.states.load(conversation_id))
            else:
                state = with_revision(state, expected + 1)

        for _attempt in range(_WRITE_ATTEMPTS):
            record = encode_state(state, updated_at=now, ttl_seconds=self.ttl_seconds)
            try:
                self.states.save(record, expected_revision=expected)
                break
            except RevisionConflict as conflict:
                # Another writer got there first: join with what it stored and try again.
                self.metrics.increment("MergeConflicts")
                state = _joined(state, conflict.current)
                expected = None if conflict.current is None else conflict.current.revision
        else:
            raise StateWriteError(
                f"Conversation {conversation_id} kept changing under other writers in "
                f"{_WRITE_ATTEMPTS} attempts; it stays pending for the next flush.",
                conversation_id=conversation_id,
            )

        if state is not pending.state:
            # The actor that merged this conversation continues from the joined state.
            self.merges[pending.shard].tell(Rebase(conversation_id, state))
            self._remember_rebased(conversation_id, state)
        self.stored[conversation_id] = record.revision
        self.metrics.observe(
            "DeliveryLag", round((self.clock.time() - pending.received_at) * 1000, 3)
        )

    def _remember_rebased(self, conversation_id: str, state: ConversationState) -> None:
        with self.rebased_lock:
            self.rebased[conversation_id] = state
            self.rebased.move_to_end(conversation_id)
            if len(self.rebased) > _REBASED_KEPT:
                self.rebased.popitem(last=False)

    def _set_aside(self) -> None:
        """On the last flush: spill undelivered messages and record the checkpoint.

        The next start reads the spill file back, and back-fills from the
        checkpoint what the states not yet written would have held.
        """
        if self.outbox and self.spill_path is not None and self._spill(self.outbox):
            self.outbox = []
        self._checkpoint(force=True)

    def _checkpoint(self, force: bool = False) -> None:
        if self.checkpoints is None:
            return
        now = self.clock.monotonic()
        if not force and now - self.last_checkpoint < self.checkpoint_interval:
            return
        self.last_checkpoint = now
        # Everything received before the oldest unwritten change is stored.
        oldest = min((p.received_at for p in self.pending.values()), default=self.clock.time())
        try:
            self.checkpoints.put_checkpoint(CHECKPOINT_SHARD, oldest)
        except StoreError as exc:
            log.warning("checkpoint.write_failed", extra={"error": str(exc)})

    # Spilling: the oldest undelivered messages wait on disk, not in memory.

    def _spill(self, messages: Sequence[OutboundMessage]) -> bool:
        """Append messages to the spill file; return False (keeping nothing) if it fails."""
        assert self.spill_path is not None
        try:
            self.spill_path.parent.mkdir(parents=True, exist_ok=True)
            with self.spill_path.open("ab") as handle:
                for message in messages:
                    handle.write(_spill_line(message))
        except OSError as exc:
            # The caller keeps the messages in memory rather than drop them.
            log.error(
                "events.spill_failed", extra={"path": str(self.spill_path), "error": str(exc)}
            )
            return False
        self.spilled += len(messages)
        log.warning("events.spilled", extra={"count": len(messages), "spilled": self.spilled})
        return True

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


def _joined(state: ConversationState, current: StateRecord | None) -> ConversationState:
    """Return ``state`` joined with the stored ``current``, at the revision after it."""
    if current is None:
        return with_revision(state, max(state.revision, 1))
    joined = join_states(decode_state(current), state)
    return with_revision(joined, current.revision + 1)


def _spill_line(message: OutboundMessage) -> bytes:
    """Encode one message as a JSON line of the spill and dead-letter files."""
    item = {
        "conversationId": message.conversation_id,
        "type": message.event_type,
        "body": message.body.decode(),
        "deduplicationId": message.deduplication_id,
        "attributes": message.attributes,
    }
    return orjson.dumps(item) + b"\n"
