"""Parse WebSocket frames into typed frames.

Every frame is a JSON object. Data frames carry ``topicName``, ``eventBody``
and ``metadata.CorrelationId``. Frames without ``topicName`` are replies to
socket-level requests (``{"result": "404", ...}``). An Amazon EventBridge
event carries the same object in its ``detail`` and is unwrapped here.

Kinds, by topic::

    channel.metadata                          Heartbeat, Pong (message "pong")
    v2.system.<kind>[.<channel id>]           SystemFrame
    v2.routing.queues.<id>.conversations[.<media>]
    v2.users.<id>.conversations[.<media>]     SnapshotFrame
    v2.detail.events.conversation.<id>.<kind> DetailFrame
    anything else (presence, ...)             OtherFrame

The parser keeps unknown keys (they stay in ``event_body``) and never logs or
echoes frame text, because frames carry personal data.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

HEARTBEAT_MESSAGE = "WebSocket Heartbeat"
PONG_MESSAGE = "pong"
METADATA_TOPIC = "channel.metadata"

_DETAIL_PREFIX = "v2.detail.events.conversation."
_SYSTEM_PREFIX = "v2.system."


class FrameError(ValueError):
    """A frame that is not a JSON object, or a data frame without its required keys."""


@dataclass(frozen=True, slots=True)
class Heartbeat:
    """The server's periodic ``channel.metadata`` heartbeat."""

    received_at: float


@dataclass(frozen=True, slots=True)
class Pong:
    """The reply to a ``{"message":"ping"}`` request."""

    received_at: float


@dataclass(frozen=True, slots=True)
class SystemFrame:
    """A ``v2.system.*`` frame: ``socket_closing``, ``no_longer_subscribed``, ``token_revoked``."""

    topic: str
    kind: str
    channel_id: str | None
    reason: str | None
    message: str | None
    received_at: float


@dataclass(frozen=True, slots=True)
class SocketReply:
    """A frame without ``topicName``: the reply to a socket-level request."""

    result: str | None
    body: dict[str, Any]
    received_at: float


@dataclass(frozen=True, slots=True)
class SnapshotFrame:
    """A whole conversation from a queue or user conversation topic.

    ``scope`` is ``"queue"`` or ``"user"`` and ``scope_id`` the queue or user id
    from the topic. ``media`` is the topic's media suffix (``calls``, ...) or None.
    """

    topic: str
    conversation_id: str
    scope: str
    scope_id: str
    media: str | None
    event_body: dict[str, Any]
    correlation_id: str | None
    received_at: float
    source: str


@dataclass(frozen=True, slots=True)
class DetailFrame:
    """One analytics detail event (``customer.start``, ``user.end``, ...)."""

    topic: str
    conversation_id: str
    kind: str
    event_body: dict[str, Any]
    correlation_id: str | None
    received_at: float
    source: str


@dataclass(frozen=True, slots=True)
class OtherFrame:
    """A data frame on a topic the merge does not use (presence, ...)."""

    topic: str
    event_body: dict[str, Any]
    correlation_id: str | None
    received_at: float


Frame = Heartbeat | Pong | SystemFrame | SocketReply | SnapshotFrame | DetailFrame | OtherFrame
DataFrame = SnapshotFrame | DetailFrame


def parse_frame(data: str | bytes, received_at: float, source: str = "websocket") -> Frame:
    """Parse one frame received at ``received_at`` (epoch seconds).

    ``source`` names where the frame came from (``websocket``, ``eventbridge``);
    an EventBridge envelope found inside the frame sets it to ``eventbridge``.
    Raises FrameError when the frame is not a JSON object or a data frame lacks
    the keys needed to route it.
    """
    try:
        document = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        unit = "bytes" if isinstance(data, bytes) else "characters"
        raise FrameError(
            f"Invalid JSON frame of {len(data)} {unit}: {exc.msg} at position {exc.pos}."
        ) from None
    return parse_document(document, received_at, source)


def parse_document(document: object, received_at: float, source: str = "websocket") -> Frame:
    """Parse a frame already decoded from JSON, as ``parse_frame`` does."""
    if not isinstance(document, dict):
        raise FrameError(f"Invalid frame: expected a JSON object, got {_json_type(document)}.")
    frame: dict[str, Any] = document
    if _is_eventbridge(frame):
        frame = frame["detail"]
        source = "eventbridge"

    topic = frame.get("topicName")
    if topic is None:
        result = frame.get("result")
        return SocketReply(None if result is None else str(result), frame, received_at)
    if not isinstance(topic, str):
        raise FrameError(f"Invalid frame: topicName is {_json_type(topic)}, expected a string.")
    body = frame.get("eventBody")
    if body is None:
        body = {}
    if not isinstance(body, dict):
        raise FrameError(
            f"Invalid frame on topic {topic}: eventBody is {_json_type(body)}, expected an object."
        )

    if topic == METADATA_TOPIC:
        return _metadata_frame(topic, body, frame, received_at)
    if topic.startswith(_SYSTEM_PREFIX):
        return _system_frame(topic, body, received_at)
    correlation_id = _correlation_id(frame)
    if topic.startswith(_DETAIL_PREFIX):
        return _detail_frame(topic, body, correlation_id, received_at, source)
    snapshot = _snapshot_frame(topic, body, correlation_id, received_at, source)
    if snapshot is not None:
        return snapshot
    return OtherFrame(topic, body, correlation_id, received_at)


def _metadata_frame(
    topic: str, body: dict[str, Any], document: dict[str, Any], received_at: float
) -> Frame:
    message = body.get("message")
    if message == PONG_MESSAGE:
        return Pong(received_at)
    if message == HEARTBEAT_MESSAGE:
        return Heartbeat(received_at)
    return OtherFrame(topic, body, _correlation_id(document), received_at)


def _system_frame(topic: str, body: dict[str, Any], received_at: float) -> SystemFrame:
    kind, _, topic_channel_id = topic[len(_SYSTEM_PREFIX) :].partition(".")
    channel_id = _optional_str(body.get("channelId")) or topic_channel_id or None
    return SystemFrame(
        topic=topic,
        kind=_optional_str(body.get("systemTopicType")) or kind,
        channel_id=channel_id,
        reason=_optional_str(body.get("reason")),
        message=_optional_str(body.get("message")),
        received_at=received_at,
    )


def _detail_frame(
    topic: str,
    body: dict[str, Any],
    correlation_id: str | None,
    received_at: float,
    source: str,
) -> DetailFrame:
    # Conversation ids are UUIDs, so the first dot after the prefix ends the id
    # and the rest is the kind, which has dots of its own (``customer.start``).
    conversation_id, _, kind = topic[len(_DETAIL_PREFIX) :].partition(".")
    if not conversation_id or not kind:
        raise FrameError(
            f"Invalid detail topic {topic}: expected "
            "v2.detail.events.conversation.<conversation id>.<kind>."
        )
    return DetailFrame(topic, conversation_id, kind, body, correlation_id, received_at, source)


def _snapshot_frame(
    topic: str,
    body: dict[str, Any],
    correlation_id: str | None,
    received_at: float,
    source: str,
) -> SnapshotFrame | None:
    parts = topic.split(".")
    if len(parts) in (5, 6) and parts[1:3] == ["routing", "queues"] and parts[4] == "conversations":
        scope, scope_id, media = "queue", parts[3], parts[5] if len(parts) == 6 else None
    elif len(parts) in (4, 5) and parts[1] == "users" and parts[3] == "conversations":
        scope, scope_id, media = "user", parts[2], parts[4] if len(parts) == 5 else None
    else:
        return None
    if parts[0] != "v2":
        return None

    conversation_id = body.get("id")
    if not isinstance(conversation_id, str) or not conversation_id:
        raise FrameError(
            f"Invalid conversation frame on topic {topic}: eventBody.id is missing or not a string."
        )
    return SnapshotFrame(
        topic, conversation_id, scope, scope_id, media, body, correlation_id, received_at, source
    )


def _is_eventbridge(document: dict[str, Any]) -> bool:
    detail = document.get("detail")
    return (
        "topicName" not in document
        and isinstance(detail, dict)
        and "detail-type" in document
        and "topicName" in detail
    )


def _correlation_id(document: dict[str, Any]) -> str | None:
    metadata = document.get("metadata")
    if isinstance(metadata, dict):
        return _optional_str(metadata.get("CorrelationId"))
    return None


def _optional_str(value: object) -> str | None:
    return value if isinstance(value, str) else None


def _json_type(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return "an object"
