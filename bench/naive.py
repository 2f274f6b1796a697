"""The baseline: the merge-and-forward loop as a typical tutorial writes it.

Per frame: parse with the standard library's ``json``, copy the cached state
with ``copy.deepcopy`` and merge the snapshot into the copy, then one
``put_item`` of the whole state and one ``send_message`` with the event. Both
calls block for the simulated latency, and ``put_item`` converts the item to
DynamoDB attribute values with boto3's ``TypeSerializer``, as boto3's
``Table.put_item`` does. There is no de-duplication, coalescing or batching.
"""

from __future__ import annotations

import copy
import json
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from boto3.dynamodb.types import TypeSerializer

from bench.stores import pause


class NaiveTable:
    """``put_item`` into a dict, one blocking call per item."""

    def __init__(self, latency: float) -> None:
        self.latency = latency
        self.items: dict[str, dict[str, Any]] = {}
        self.calls = 0
        self._serializer = TypeSerializer()

    def put_item(self, Item: dict[str, Any]) -> None:
        serialized = {key: self._serializer.serialize(value) for key, value in Item.items()}
        pause(self.latency)
        self.calls += 1
        self.items[Item["conversationId"]] = serialized


class NaiveQueue:
    """``send_message`` into a list, one blocking call per message."""

    def __init__(self, latency: float) -> None:
        self.latency = latency
        self.bodies: list[str] = []
        self.calls = 0

    def send_message(self, MessageBody: str) -> None:
        pause(self.latency)
        self.calls += 1
        self.bodies.append(MessageBody)


@dataclass
class NaiveResult:
    frames: int
    seconds: float  # real time, simulated latency included
    cpu_seconds: float  # CPU time of the thread
    writes: int
    requests: int

    @property
    def rate(self) -> float:
        """Frames per second of real time."""
        return self.frames / self.seconds

    @property
    def cpu_rate(self) -> float:
        """Frames per second of CPU time."""
        return self.frames / self.cpu_seconds


def run_naive(frames: Sequence[str], *, latency: float = 0.0) -> NaiveResult:
    """Merge and forward every frame, one at a time."""
    table = NaiveTable(latency)
    queue = NaiveQueue(latency)
    states: dict[str, dict[str, Any]] = {}

    started = time.perf_counter()
    cpu_started = time.thread_time()
    for text in frames:
        frame = json.loads(text)
        body = frame["eventBody"]
        conversation_id = body["id"]
        old = states.get(conversation_id)
        state = copy.deepcopy(old) if old is not None else _empty(conversation_id)
        _merge_snapshot(state, body)
        state["revision"] += 1
        states[conversation_id] = state

        table.put_item(Item=state)
        event = {
            "type": "conversation.updated",
            "conversationId": conversation_id,
            "revision": state["revision"],
            "topic": frame["topicName"],
            "body": body,
        }
        queue.send_message(MessageBody=json.dumps(event))
    seconds = time.perf_counter() - started
    cpu_seconds = time.thread_time() - cpu_started
    return NaiveResult(len(frames), seconds, cpu_seconds, table.calls, queue.calls)


def _empty(conversation_id: str) -> dict[str, Any]:
    return {"conversationId": conversation_id, "revision": 0, "participants": {}}


def _merge_snapshot(state: dict[str, Any], body: dict[str, Any]) -> None:
    for key, value in body.items():
        if key != "participants":
            state[key] = value
    participants = state["participants"]
    for participant in body.get("participants", ()):
        merged = participants.setdefault(participant["id"], {})
        _merge_dict(merged, participant)


def _merge_dict(target: dict[str, Any], source: dict[str, Any]) -> None:
    """Merge ``source`` into ``target``: objects key by key, arrays of objects by ``id``."""
    for key, value in source.items():
        current = target.get(key)
        if isinstance(value, dict) and isinstance(current, dict):
            _merge_dict(current, value)
        elif isinstance(value, list) and isinstance(current, list) and _all_have_ids(value):
            by_id = {item["id"]: item for item in current if isinstance(item, dict)}
            for item in value:
                if item["id"] in by_id:
                    _merge_dict(by_id[item["id"]], item)
                else:
                    current.append(copy.deepcopy(item))
        else:
            target[key] = copy.deepcopy(value)


def _all_have_ids(items: list[Any]) -> bool:
    return all(isinstance(item, dict) and "id" in item for item in items)
