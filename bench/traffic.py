"""Frames for the benchmarks: callback-sample conversations that change several times a second.

Every conversation is the published callback sample (``tests/samples``, five
participants, about 5.5 KB as compact JSON) under its own id. Each change puts
one participant's callback on hold or takes it off, with a new
``startHoldTime``. It is sent as Genesys sends a snapshot: on the queue topic,
the queue media topic, the user topic and the user media topic, each frame
with its own ``CorrelationId``.

Conversations start one after another at a steady pace, so that after a
ramp-up ``active`` of them are open at once. One change of one conversation
fills one slot of four frames, and each open conversation changes once every
``active`` slots: at an offered rate of R frames per second, that is
``R / (4 * active)`` changes per second (4.2 at 1,000 frames per second and
60 open conversations).
"""

from __future__ import annotations

import copy
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson

SAMPLE = (
    Path(__file__).parents[1]
    / "tests"
    / "samples"
    / "conversation-user-topic-callback-connected.json"
)
_START = datetime(2026, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class Stream:
    """Frames in arrival order, and what they contain."""

    frames: list[str]  # JSON text, as the WebSocket client returns a text frame
    conversations: int
    changes: int  # per conversation

    @property
    def mean_frame_bytes(self) -> float:
        return sum(len(frame.encode()) for frame in self.frames) / len(self.frames)


def sample_envelope() -> dict[str, Any]:
    """Return the callback sample frame as JSON."""
    document: dict[str, Any] = orjson.loads(SAMPLE.read_bytes())
    return document


def callback_stream(conversations: int, changes: int, active: int = 60, seed: int = 0) -> Stream:
    """Return ``changes`` snapshot changes of each of ``conversations`` conversations."""
    template = sample_envelope()["eventBody"]
    queue_id = template["participants"][0]["queueId"]
    user_id = "6f2c3cc1-3cd7-4b5a-b3b2-6f0f3e2bd0a1"
    topics = (
        f"v2.routing.queues.{queue_id}.conversations",
        f"v2.routing.queues.{queue_id}.conversations.callbacks",
        f"v2.users.{user_id}.conversations",
        f"v2.users.{user_id}.conversations.callbacks",
    )

    # Conversation k starts at slot k * changes and changes every `active` slots,
    # so a new one starts as an old one ends.
    slots: list[tuple[int, int, int]] = []
    for index in range(conversations):
        start = index * changes
        slots.extend((start + change * active, index, change) for change in range(changes))
    slots.sort()

    frames: list[str] = []
    correlation = 0
    for _, index, change in slots:
        conversation_id = str(uuid.UUID(int=(seed << 64) + index + 1, version=4))
        body = _changed_body(template, conversation_id, change)
        for topic in topics:
            correlation += 1
            frame = {
                "topicName": topic,
                "version": "2",
                "eventBody": body,
                "metadata": {"CorrelationId": str(uuid.UUID(int=correlation, version=4))},
            }
            frames.append(orjson.dumps(frame).decode())
    return Stream(frames, conversations, changes)


def _changed_body(template: dict[str, Any], conversation_id: str, change: int) -> dict[str, Any]:
    body = copy.deepcopy(template)
    body["id"] = conversation_id
    participants = body["participants"]
    participant = participants[change % len(participants)]
    callback = participant["callbacks"][0]
    callback["held"] = change % 2 == 0
    hold = _START + timedelta(milliseconds=250 * change)
    callback["startHoldTime"] = (
        hold.strftime("%Y-%m-%dT%H:%M:%S.") + f"{hold.microsecond // 1000:03d}Z"
    )
    return body
