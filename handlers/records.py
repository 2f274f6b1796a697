"""Encode merged states as DynamoDB items and lifecycle events as SQS messages.

The item (one per conversation, keyed by ``conversationId``)::

    conversationId, state, startTime, endTime, mediaTypes, queueIds, userIds,
    queueHistory  [{"queueId", "time"}] in arrival order
    participants  [{"id", <times>, <fields>, "communications": [{"mediaType",
                    "id", <times>, <fields>}]}]
    conversation  conversation-level fields (recordingState, divisions, ...)
    revision, updatedAt (ISO-8601), expiresAt (epoch seconds, only once
    ended), schemaVersion

Each node also carries ``_stamp`` (the greatest stamp of its fields, as
``[rank, time]``) and ``_stamps`` (the fields whose stamp differs), so that
``decode_state`` restores the exact merge state and a conflicting write can be
merged again. Values are JSON-compatible: strings, ints, booleans, lists,
objects, and the numbers Genesys sent. The store converts them to DynamoDB
types.

The message body is described by ``MESSAGE_SCHEMA`` and checked by
``validate_message``.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

import orjson

from handlers.lifecycle import EVENT_TYPES, LifecycleEvent
from handlers.normalize import Observation
from handlers.state import (
    ENDED,
    RESERVED_KEYS,
    TIME_KEYS,
    CommunicationState,
    ConversationState,
    ParticipantState,
    Register,
    Stamp,
    Summary,
    summarize,
)
from handlers.times import epoch_seconds, time_from_seconds
from stores.base import OutboundMessage, StateRecord

SCHEMA_VERSION = 1
MESSAGE_SCHEMA_ID = "genesys-stream.event/1"
SOURCES = ("websocket", "backfill", "eventbridge")

# Message keys left out of the deduplication hash: the same change seen twice
# (another socket, another topic, a replayed frame) must deduplicate.
_VOLATILE_KEYS = frozenset({"receivedAt", "correlationId", "topic", "source"})


class RecordError(ValueError):
    """A stored item that cannot be decoded into a conversation state."""


# State items


def encode_state(state: ConversationState, updated_at: float, ttl_seconds: int) -> StateRecord:
    """Encode a state as a DynamoDB item.

    ``updated_at`` is epoch seconds. ``expiresAt`` is set only once the
    conversation has ended: its end time plus ``ttl_seconds`` (or
    ``updated_at`` plus ``ttl_seconds`` when no valid end time is known).
    """
    summary = summarize(state)
    item: dict[str, Any] = {
        "conversationId": state.conversation_id,
        **_summary_document(summary),
        "queueHistory": [
            {"queueId": queue_id, "time": time}
            for queue_id, time in sorted(
                state.queues.items(), key=lambda item: (item[1] is None, item[1] or "", item[0])
            )
        ],
        "participants": [_encode_participant(p) for p in state.participants.values()],
        "conversation": _encode_node({"id": state.conversation_id}, state.times, state.fields),
        "revision": state.revision,
        "updatedAt": time_from_seconds(updated_at),
        "schemaVersion": SCHEMA_VERSION,
    }
    if summary.state == ENDED:
        # An item stored before times were range-checked may hold an invalid
        # end time, and then the expiry counts from ``updated_at``.
        ended_at = epoch_seconds(summary.end_time) if summary.end_time is not None else None
        item["expiresAt"] = (ended_at if ended_at is not None else int(updated_at)) + ttl_seconds
    return StateRecord(state.conversation_id, state.revision, item)


def decode_state(record: StateRecord) -> ConversationState:
    """Decode an item written by ``encode_state``.

    A store that trimmed ``attributes`` maps to fit the item size lists those
    participants in ``trimmedParticipants``. Their ``attributes`` decode as
    unknown rather than empty, so merging again keeps any copy still in memory.
    Raises RecordError when the item lacks the keys ``encode_state`` writes.
    """
    item = record.item
    try:
        conversation = item["conversation"]
        times, fields = _decode_node(conversation)
        trimmed = frozenset(item.get("trimmedParticipants") or ())
        participants = {}
        for document in item["participants"]:
            participant = _decode_participant(document)
            if participant.id in trimmed:
                participant.fields.pop("attributes", None)
            participants[participant.id] = participant
        queues = {entry["queueId"]: entry["time"] for entry in item["queueHistory"]}
        return ConversationState(
            conversation_id=item["conversationId"],
            revision=int(item["revision"]),
            times=times,
            fields=fields,
            participants=participants,
            queues=queues,
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise RecordError(
            f"Stored item of conversation {record.conversation_id} is not a valid "
            f"schemaVersion {SCHEMA_VERSION} item ({type(exc).__name__}: {exc}). "
            "Delete it so that back-fill writes it again."
        ) from exc


def _summary_document(summary: Summary) -> dict[str, Any]:
    return {
        "state": summary.state,
        "startTime": summary.start_time,
        "endTime": summary.end_time,
        "mediaTypes": list(summary.media_types),
        "queueIds": list(summary.queue_ids),
        "userIds": list(summary.user_ids),
    }


def _encode_participant(participant: ParticipantState) -> dict[str, Any]:
    document = _encode_node({"id": participant.id}, participant.times, participant.fields)
    document["communications"] = [
        _encode_node({"mediaType": c.media, "id": c.id}, c.times, c.fields)
        for c in participant.communications.values()
    ]
    return document


def _encode_node(
    head: dict[str, Any], times: Mapping[str, str], fields: Mapping[str, Register]
) -> dict[str, Any]:
    document = head
    document.update(times)
    if not fields:
        return document
    top = max([register[0] for register in fields.values()])
    others: dict[str, list[Any]] = {}
    for key, (stamp, field_value) in fields.items():
        document[key] = field_value
        if stamp != top:
            others[key] = [stamp[0], stamp[1]]
    document["_stamp"] = [top[0], top[1]]
    if others:
        document["_stamps"] = others
    return document


def _decode_participant(document: Mapping[str, Any]) -> ParticipantState:
    times, fields = _decode_node(document)
    communications: dict[tuple[str, str], CommunicationState] = {}
    for entry in document["communications"]:
        communication_times, communication_fields = _decode_node(entry)
        key = (entry["mediaType"], entry["id"])
        communications[key] = CommunicationState(
            key[0], key[1], communication_times, communication_fields
        )
    return ParticipantState(document["id"], times, fields, communications)


def _decode_node(document: Mapping[str, Any]) -> tuple[dict[str, str], dict[str, Register]]:
    top = _stamp(document.get("_stamp", [0, ""]))
    others = document.get("_stamps", {})
    times: dict[str, str] = {}
    fields: dict[str, Register] = {}
    for key, raw in document.items():
        if key in RESERVED_KEYS:
            continue
        if key in TIME_KEYS:
            times[key] = raw
        else:
            fields[key] = (_stamp(others[key]) if key in others else top, raw)
    return times, fields


def _stamp(raw: Any) -> Stamp:
    rank, time = raw
    return (int(rank), str(time))


# Messages


def encode_message(
    event: LifecycleEvent,
    state: ConversationState,
    observation: Observation,
    received_at: float,
) -> OutboundMessage:
    """Encode one lifecycle event as an SQS message body (see ``MESSAGE_SCHEMA``).

    ``received_at`` is epoch seconds. A participant event carries only that
    participant's part of the input as ``body`` (see
    ``Observation.participant_body``), so the N participant events of one
    change do not each repeat the whole document. The deduplication id is
    the SHA-256 of the canonical message without ``receivedAt``,
    ``correlationId``, ``topic`` and ``source``, so duplicates that differ only
    there deduplicate.
    """
    # NOTE: every message still repeats the summary, whose userIds and queueIds
    # lists grow with the participants, so N agents cost O(N^2) bytes in total.
    if event.participant_id is None:
        body = observation.body
    else:
        body = observation.participant_body(event.participant_id)
    message: dict[str, Any] = {
        "schema": MESSAGE_SCHEMA_ID,
        "type": event.type,
        "conversationId": event.conversation_id,
        "participantId": event.participant_id,
        "revision": state.revision,
        "topic": observation.topic,
        "source": observation.source,
        "receivedAt": time_from_seconds(received_at),
        "eventTime": observation.event_time,
        "correlationId": observation.correlation_id,
        "summary": _summary_document(summarize(state)),
        "body": body,
    }
    stable = {key: item for key, item in message.items() if key not in _VOLATILE_KEYS}
    digest = hashlib.sha256(_dumps(stable, sort_keys=True)).hexdigest()
    return OutboundMessage(
        conversation_id=event.conversation_id,
        event_type=event.type,
        body=_dumps(message, sort_keys=False),
        deduplication_id=digest,
        attributes={"type": event.type, "conversationId": event.conversation_id},
    )


def _dumps(message: Mapping[str, Any], *, sort_keys: bool) -> bytes:
    try:
        return orjson.dumps(message, option=orjson.OPT_SORT_KEYS if sort_keys else None)
    except orjson.JSONEncodeError:
        # An integer beyond 64 bits, from a document parsed by the json module.
        return json.dumps(message, sort_keys=sort_keys, separators=(",", ":")).encode()


_NULLABLE_STRING: dict[str, Any] = {"type": ["string", "null"]}
_STRING_LIST: dict[str, Any] = {"type": "array", "items": {"type": "string"}}

MESSAGE_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "$id": MESSAGE_SCHEMA_ID,
    "title": "genesys-stream lifecycle event",
    "type": "object",
    "required": [
        "schema",
        "type",
        "conversationId",
        "participantId",
        "revision",
        "topic",
        "source",
        "receivedAt",
        "eventTime",
        "correlationId",
        "summary",
        "body",
    ],
    "additionalProperties": False,
    "properties": {
        "schema": {"const": MESSAGE_SCHEMA_ID},
        "type": {"enum": list(EVENT_TYPES)},
        "conversationId": {"type": "string", "minLength": 1},
        "participantId": {
            "type": ["string", "null"],
            "description": "The participant of participant.joined and participant.left.",
        },
        "revision": {"type": "integer", "minimum": 1},
        "topic": {
            "type": ["string", "null"],
            "description": "The topicName the event came on, or null for back-fill.",
        },
        "source": {"enum": list(SOURCES)},
        "receivedAt": {"type": "string", "description": "ISO-8601 UTC."},
        "eventTime": {
            "type": ["string", "null"],
            "description": "ISO-8601 UTC: eventTime of a detail event, else the latest "
            "time in the event.",
        },
        "correlationId": _NULLABLE_STRING,
        "summary": {
            "type": "object",
            "required": ["state", "startTime", "endTime", "mediaTypes", "queueIds", "userIds"],
            "additionalProperties": False,
            "properties": {
                "state": {"enum": ["active", "ended"]},
                "startTime": _NULLABLE_STRING,
                "endTime": _NULLABLE_STRING,
                "mediaTypes": _STRING_LIST,
                "queueIds": _STRING_LIST,
                "userIds": _STRING_LIST,
            },
        },
        "body": {
            "type": "object",
            "description": "The Genesys document the event came from: eventBody, a REST "
            "conversation or an analytics record. A participant event carries only that "
            "participant's entry of the document's participants, or the whole detail event "
            "about it, and an empty object when the document has no entry for it.",
        },
    },
}


def validate_message(message: object) -> list[str]:
    """Return the ways ``message`` breaks ``MESSAGE_SCHEMA``, an empty list when it is valid.

    Supports the keywords the schema uses: type, const, enum, required,
    properties, additionalProperties, items, minimum, minLength.
    """
    problems: list[str] = []
    _check(message, MESSAGE_SCHEMA, "$", problems)
    return problems


_JSON_TYPES: Mapping[str, tuple[type, ...]] = {
    "object": (dict,),
    "array": (list,),
    "string": (str,),
    "integer": (int,),
    "number": (int, float),
    "boolean": (bool,),
    "null": (type(None),),
}


def _check(instance: object, schema: Mapping[str, Any], path: str, problems: list[str]) -> None:
    expected = schema.get("type")
    if expected is not None:
        names = [expected] if isinstance(expected, str) else list(expected)
        if not any(_is_type(instance, name) for name in names):
            problems.append(
                f"{path}: expected {' or '.join(names)}, got {type(instance).__name__}."
            )
            return
    if "const" in schema and instance != schema["const"]:
        problems.append(f"{path}: expected {schema['const']!r}, got {instance!r}.")
    if "enum" in schema and instance not in schema["enum"]:
        problems.append(f"{path}: {instance!r} is not one of {schema['enum']}.")
    if isinstance(instance, str) and len(instance) < schema.get("minLength", 0):
        problems.append(f"{path}: expected at least {schema['minLength']} characters.")
    if isinstance(instance, int) and "minimum" in schema and instance < schema["minimum"]:
        problems.append(f"{path}: {instance} is less than {schema['minimum']}.")
    if isinstance(instance, dict):
        properties = schema.get("properties", {})
        for key in schema.get("required", ()):
            if key not in instance:
                problems.append(f"{path}: missing required key {key!r}.")
        for key, item in instance.items():
            if key in properties:
                _check(item, properties[key], f"{path}.{key}", problems)
            elif schema.get("additionalProperties") is False:
                problems.append(f"{path}: unexpected key {key!r}.")
    if isinstance(instance, list) and "items" in schema:
        for index, item in enumerate(instance):
            _check(item, schema["items"], f"{path}[{index}]", problems)


def _is_type(instance: object, name: str) -> bool:
    if isinstance(instance, bool):
        return name == "boolean"
    return isinstance(instance, _JSON_TYPES[name])
