"""The embedded store, for running without AWS: SQLite for state and checkpoints, JSONL for events.

``LocalStateStore`` and ``LocalCheckpointStore`` share one SQLite file in WAL
mode, one row per conversation (id, revision, item as JSON) and one per shard.
They follow the DynamoDB stores' rules: conditional writes on ``revision``,
checkpoints that only move forward. Each store has one connection guarded by a
lock, so any thread may call it.

``LocalEventQueue`` appends one JSON object per message to a file::

    {"conversationId": "...", "type": "...", "messageGroupId": "...",
     "messageDeduplicationId": "...", "attributes": {...}, "body": "<the SQS body text>"}

It applies the SQS character and id rules, so what passes here passes SQS, and
drops a message whose deduplication id it wrote within the last 5 minutes, as
a FIFO queue does.
"""

from __future__ import annotations

import sqlite3
import threading
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import orjson

from genesys_stream.clock import Clock, SystemClock
from stores.base import OutboundMessage, RevisionConflict, StateRecord
from stores.errors import DeliveryError
from stores.items import checked_item, record_from_item
from stores.messages import body_text, check_message

# Seconds SQLite waits for another connection's write lock before failing.
_BUSY_TIMEOUT = 5.0
# The FIFO deduplication interval of SQS, in seconds.
DEDUPLICATION_WINDOW = 300.0

_SCHEMA = """
CREATE TABLE IF NOT EXISTS conversations (
    conversation_id TEXT PRIMARY KEY,
    revision INTEGER NOT NULL,
    item TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS checkpoints (
    shard TEXT PRIMARY KEY,
    epoch_seconds REAL NOT NULL
);
"""


class _Database:
    """One SQLite connection, usable from any thread one at a time."""

    def __init__(self, path: Path | str) -> None:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        # Autocommit mode: each transaction is opened with BEGIN IMMEDIATE below.
        self.connection = sqlite3.connect(
            path, timeout=_BUSY_TIMEOUT, check_same_thread=False, isolation_level=None
        )
        self.lock = threading.Lock()
        with self.lock:
            self.connection.execute("PRAGMA journal_mode=WAL")
            self.connection.executescript(_SCHEMA)

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """Hold the lock and a write transaction; commit on exit, roll back on any exception."""
        with self.lock:
            self.connection.execute("BEGIN IMMEDIATE")
            try:
                yield self.connection
            except BaseException:
                self.connection.execute("ROLLBACK")
                raise
            self.connection.execute("COMMIT")

    def close(self) -> None:
        with self.lock:
            self.connection.close()


class LocalStateStore:
    """A ``StateStore`` on a SQLite file."""

    def __init__(self, path: Path | str) -> None:
        self._db = _Database(path)

    def load(self, conversation_id: str) -> StateRecord | None:
        """Return the stored state of ``conversation_id``, or None."""
        with self._db.lock:
            row = self._db.connection.execute(
                "SELECT item FROM conversations WHERE conversation_id = ?", (conversation_id,)
            ).fetchone()
        return record_from_item(orjson.loads(row[0])) if row else None

    def save(self, record: StateRecord, expected_revision: int | None) -> None:
        """Write ``record`` if the stored revision is ``expected_revision`` (None: not stored).

        Raises ``RevisionConflict`` carrying the stored record otherwise, and
        ``ValueError`` for a record that does not move the revision forward.
        """
        item = checked_item(record, expected_revision)
        encoded = orjson.dumps(item).decode()
        with self._db.transaction() as connection:
            row = connection.execute(
                "SELECT revision, item FROM conversations WHERE conversation_id = ?",
                (record.conversation_id,),
            ).fetchone()
            stored_revision = row[0] if row else None
            if stored_revision != expected_revision:
                current = record_from_item(orjson.loads(row[1])) if row else None
                raise RevisionConflict(record.conversation_id, expected_revision, current)
            connection.execute(
                "INSERT OR REPLACE INTO conversations (conversation_id, revision, item) "
                "VALUES (?, ?, ?)",
                (record.conversation_id, record.revision, encoded),
            )

    def list(self, limit: int = 100) -> list[StateRecord]:
        """Return up to ``limit`` stored conversations, ordered by id."""
        if limit < 0:
            raise ValueError(f"limit must be 0 or more, got {limit}.")
        with self._db.lock:
            rows = self._db.connection.execute(
                "SELECT item FROM conversations ORDER BY conversation_id LIMIT ?", (limit,)
            ).fetchall()
        return [record_from_item(orjson.loads(row[0])) for row in rows]

    def close(self) -> None:
        self._db.close()


class LocalCheckpointStore:
    """A ``CheckpointStore`` on a SQLite file; checkpoints only move forward."""

    def __init__(self, path: Path | str) -> None:
        self._db = _Database(path)

    def get_checkpoint(self, shard: str) -> float | None:
        """Return the checkpoint of ``shard`` in epoch seconds, or None."""
        with self._db.lock:
            row = self._db.connection.execute(
                "SELECT epoch_seconds FROM checkpoints WHERE shard = ?", (shard,)
            ).fetchone()
        return float(row[0]) if row else None

    def put_checkpoint(self, shard: str, epoch_seconds: float) -> None:
        """Store ``epoch_seconds`` as the checkpoint of ``shard`` unless a later one is stored."""
        if not shard:
            raise ValueError("A checkpoint needs a shard name; got an empty one.")
        with self._db.lock:
            self._db.connection.execute(
                "INSERT INTO checkpoints (shard, epoch_seconds) VALUES (?, ?) "
                "ON CONFLICT (shard) DO UPDATE SET epoch_seconds = excluded.epoch_seconds "
                "WHERE excluded.epoch_seconds >= checkpoints.epoch_seconds",
                (shard, float(epoch_seconds)),
            )

    def close(self) -> None:
        self._db.close()


class LocalEventQueue:
    """An ``EventQueue`` appending JSON lines to a file.

    ``clock`` times the deduplication window; real time when None.
    """

    def __init__(self, path: Path | str, clock: Clock | None = None) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._clock = clock or SystemClock()
        self._lock = threading.Lock()
        # NOTE: the window starts empty, so a message sent again after a restart is written again.
        self._seen: OrderedDict[str, float] = OrderedDict()
        self._file = self.path.open("ab")

    def send(self, messages: Sequence[OutboundMessage]) -> None:
        """Append every valid message; raise ``DeliveryError`` naming those SQS would reject."""
        rejected: list[OutboundMessage] = []
        reasons: dict[str, str] = {}
        with self._lock:
            now = self._clock.monotonic()
            self._forget_before(now - DEDUPLICATION_WINDOW)
            for message in messages:
                try:
                    line = _line(message)
                except ValueError as exc:
                    rejected.append(message)
                    reasons[message.deduplication_id] = str(exc)
                    continue
                if message.deduplication_id in self._seen:
                    continue
                self._seen[message.deduplication_id] = now
                self._file.write(line)
            self._file.flush()
        if rejected:
            raise DeliveryError(rejected, permanent=rejected, reasons=reasons)

    def close(self) -> None:
        with self._lock:
            self._file.close()

    def _forget_before(self, cutoff: float) -> None:
        while self._seen:
            oldest, seen_at = next(iter(self._seen.items()))
            if seen_at >= cutoff:
                return
            del self._seen[oldest]


def read_events(path: Path | str) -> list[dict[str, Any]]:
    """Return every message a ``LocalEventQueue`` wrote to ``path``, oldest first."""
    with Path(path).open("rb") as lines:
        return [orjson.loads(line) for line in lines if line.strip()]


def _line(message: OutboundMessage) -> bytes:
    check_message(message, fifo=True)
    entry = {
        "conversationId": message.conversation_id,
        "type": message.event_type,
        "messageGroupId": message.conversation_id,
        "messageDeduplicationId": message.deduplication_id,
        "attributes": message.attributes,
        "body": body_text(message),
    }
    return orjson.dumps(entry, option=orjson.OPT_APPEND_NEWLINE)
