"""In-memory stores with a simulated per-call latency, for the benchmarks.

Each call sleeps ``latency`` seconds on the calling thread, as a blocking AWS
call would. Before that it does the CPU work the AWS store does before its
request. ``MemoryStateStore`` converts the item to DynamoDB attribute values
(``stores.items.encode_item``), and ``MemoryEventQueue`` checks every message
as ``stores.sqs`` does and accepts at most 10 per call.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import orjson

from stores.base import OutboundMessage, RevisionConflict, StateRecord
from stores.items import checked_item, encode_item
from stores.messages import MAX_BATCH_ENTRIES, body_text, check_message


def pause(latency: float) -> None:
    if latency > 0:
        time.sleep(latency)


class MemoryStateStore:
    """A ``StateStore`` in a dict: one conditional put per ``save``, counted in ``puts``."""

    def __init__(self, latency: float = 0.0) -> None:
        self.latency = latency
        self.items: dict[str, StateRecord] = {}
        self.puts = 0
        self._lock = threading.Lock()

    def load(self, conversation_id: str) -> StateRecord | None:
        pause(self.latency)
        return self.items.get(conversation_id)

    def save(self, record: StateRecord, expected_revision: int | None) -> None:
        item = checked_item(record, expected_revision)
        encode_item(item)
        pause(self.latency)
        with self._lock:
            self.puts += 1
            current = self.items.get(record.conversation_id)
            stored = None if current is None else current.revision
            if stored != expected_revision:
                raise RevisionConflict(record.conversation_id, expected_revision, current)
            self.items[record.conversation_id] = record

    def list(self, limit: int = 100) -> list[StateRecord]:
        return list(self.items.values())[:limit]


class MemoryEventQueue:
    """An ``EventQueue`` in a list: batches of 10 per request, counted in ``requests``.

    With ``track_latency``, each accepted message adds the seconds from its
    ``receivedAt`` to the end of its request to ``latencies``. ``receivedAt``
    has millisecond precision.
    """

    def __init__(self, latency: float = 0.0, *, fifo: bool = True, track_latency: bool = False):
        self.latency = latency
        self.fifo = fifo
        self.track_latency = track_latency
        self.accepted = 0
        self.requests = 0
        self.latencies: list[float] = []
        self.last_accepted_perf: float | None = None  # time.perf_counter() of the last request
        self._lock = threading.Lock()

    def send(self, messages: Sequence[OutboundMessage]) -> None:
        for start in range(0, len(messages), MAX_BATCH_ENTRIES):
            batch = messages[start : start + MAX_BATCH_ENTRIES]
            for message in batch:
                check_message(message, self.fifo)
                body_text(message)
            pause(self.latency)
            accepted_at = time.time()
            with self._lock:
                self.requests += 1
                self.accepted += len(batch)
                self.last_accepted_perf = time.perf_counter()
                if self.track_latency:
                    self.latencies.extend(accepted_at - _received_at(m) for m in batch)


def _received_at(message: OutboundMessage) -> float:
    body: dict[str, Any] = orjson.loads(message.body)
    return datetime.fromisoformat(body["receivedAt"]).timestamp()
