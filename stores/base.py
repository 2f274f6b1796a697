"""The seams between the pipeline and the places its output goes.

The SinkActor talks only to these protocols. ``stores.dynamodb``,
``stores.sqs`` and ``stores.s3`` implement them on AWS; ``stores.local``
implements them on SQLite and a JSONL file for running without AWS.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol


@dataclass(frozen=True)
class StateRecord:
    """The merged state of one conversation, as stored.

    ``item`` is the JSON-compatible document laid out as the DynamoDB item
    (``conversationId``, ``state``, ``participants``, ``revision``, ...).
    """

    conversation_id: str
    revision: int
    item: dict[str, Any]


@dataclass(frozen=True)
class OutboundMessage:
    """One forwarded event, already encoded as the SQS message body."""

    conversation_id: str
    event_type: str
    body: bytes
    deduplication_id: str
    attributes: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class PayloadPointer:
    """The S3 object that contains a payload too large for the queue, with its checksum."""

    bucket: str
    key: str
    size: int
    sha256: str


class RevisionConflict(Exception):
    """A conditional write found another revision stored than the one expected."""

    def __init__(self, conversation_id: str, expected: int | None, current: StateRecord | None):
        self.conversation_id = conversation_id
        self.expected = expected
        self.current = current
        super().__init__(
            f"Conversation {conversation_id} is stored at revision "
            f"{current.revision if current else 'none'}, not {expected}; reload and merge again."
        )


class StateStore(Protocol):
    def load(self, conversation_id: str) -> StateRecord | None:
        """Return the stored state of one conversation, or None."""

    def save(self, record: StateRecord, expected_revision: int | None) -> None:
        """Write ``record`` if the stored revision is ``expected_revision``.

        ``expected_revision=None`` means the conversation must not be stored
        yet. Raises ``RevisionConflict`` otherwise.
        """

    def list(self, limit: int = 100) -> list[StateRecord]:
        """Return up to ``limit`` stored conversations."""


class EventQueue(Protocol):
    def send(self, messages: Sequence[OutboundMessage]) -> None:
        """Deliver every message, batching and retrying as the queue requires.

        Raises ``stores.errors.DeliveryError`` naming the messages that could
        not be delivered after the retry budget; the caller keeps those.
        """


class PayloadStore(Protocol):
    def put(self, key_hint: str, data: bytes) -> PayloadPointer:
        """Store ``data`` and return its location; ``key_hint`` (a conversation id) groups keys."""


class CheckpointStore(Protocol):
    def get_checkpoint(self, shard: str) -> float | None:
        """Return the time (epoch seconds) up to which ``shard`` has seen every event."""

    def put_checkpoint(self, shard: str, epoch_seconds: float) -> None:
        """Record that ``shard`` has seen every event up to ``epoch_seconds``."""
