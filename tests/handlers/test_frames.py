from collections.abc import Callable

import orjson
import pytest

from handlers.frames import (
    DetailFrame,
    FrameError,
    Heartbeat,
    OtherFrame,
    Pong,
    SnapshotFrame,
    SocketReply,
    SystemFrame,
    parse_frame,
)

CALLBACK = "conversation-user-topic-callback-connected.json"


def test_heartbeat_sample(sample_text: Callable[[str], bytes]) -> None:
    frame = parse_frame(sample_text("heartbeat.json"), 12.5)

    assert frame == Heartbeat(12.5)


def test_pong_sample(sample_text: Callable[[str], bytes]) -> None:
    frame = parse_frame(sample_text("pong.json"), 1.0)

    assert frame == Pong(1.0)


def test_metadata_with_other_message_is_other() -> None:
    frame = parse_frame(b'{"topicName":"channel.metadata","eventBody":{"message":"hi"}}', 1.0)

    assert isinstance(frame, OtherFrame)
    assert frame.topic == "channel.metadata"


def test_presence_sample_is_other(sample_text: Callable[[str], bytes]) -> None:
    frame = parse_frame(sample_text("presence-event.json"), 1.0)

    assert isinstance(frame, OtherFrame)
    assert frame.topic == "v2.users.9ed7d9f6-0c59-4360-ac54-40dd35eb9c2f.presence"
    assert frame.correlation_id == "290034f4-c3d7-46fd-8342-ee5bc859b7e9"


def test_user_topic_snapshot(sample_text: Callable[[str], bytes]) -> None:
    frame = parse_frame(sample_text(CALLBACK), 7.0)

    assert isinstance(frame, SnapshotFrame)
    assert frame.conversation_id == "ffff-ffff-ffff-ffff"
    assert frame.scope == "user"
    assert frame.scope_id == "AGENT_USER_ID"
    assert frame.media is None
    assert frame.correlation_id == "2074b130-f0a0-4722-9063-cdbac74c0aee"
    assert frame.received_at == 7.0
    assert frame.source == "websocket"
    assert len(frame.event_body["participants"]) == 5


def test_queue_topic_with_media() -> None:
    data = orjson.dumps(
        {"topicName": "v2.routing.queues.q1.conversations.calls", "eventBody": {"id": "c1"}}
    )

    frame = parse_frame(data, 1.0)

    assert isinstance(frame, SnapshotFrame)
    assert frame.scope == "queue"
    assert frame.scope_id == "q1"
    assert frame.media == "calls"
    assert frame.correlation_id is None


def test_detail_topic_kind_with_dot() -> None:
    data = orjson.dumps(
        {
            "topicName": "v2.detail.events.conversation.c1.user.end",
            "eventBody": {"eventTime": 5},
            "metadata": {"CorrelationId": "x"},
        }
    )

    frame = parse_frame(data, 1.0)

    assert isinstance(frame, DetailFrame)
    assert frame.conversation_id == "c1"
    assert frame.kind == "user.end"
    assert frame.correlation_id == "x"


def test_detail_topic_without_kind() -> None:
    data = b'{"topicName":"v2.detail.events.conversation.c1","eventBody":{}}'

    with pytest.raises(FrameError, match=r"v2\.detail\.events\.conversation\.c1"):
        parse_frame(data, 1.0)


def test_eventbridge_envelope_unwraps(sample_text: Callable[[str], bytes]) -> None:
    frame = parse_frame(sample_text("eventbridge-detail-customer-start.json"), 1.0)

    assert isinstance(frame, DetailFrame)
    assert frame.source == "eventbridge"
    assert frame.conversation_id == "2f7bf00a-0fc2-4d6a-9b56-92238191433e"
    assert frame.kind == "customer.start"
    assert frame.correlation_id == "fe8a8579-b83f-4f07-b371-2b39398f91a8"


@pytest.mark.parametrize(
    ("topic", "kind", "channel_id"),
    [
        ("v2.system.socket_closing", "socket_closing", None),
        ("v2.system.no_longer_subscribed.ch-1", "no_longer_subscribed", "ch-1"),
        ("v2.system.token_revoked.ch-2", "token_revoked", "ch-2"),
    ],
)
def test_system_frames(topic: str, kind: str, channel_id: str | None) -> None:
    data = orjson.dumps({"topicName": topic, "eventBody": {"reason": "r", "message": "m"}})

    frame = parse_frame(data, 3.0)

    assert frame == SystemFrame(topic, kind, channel_id, "r", "m", 3.0)


def test_system_frame_body_fields_win() -> None:
    body = {"channelId": "ch-9", "systemTopicType": "token_revoked"}
    data = orjson.dumps({"topicName": "v2.system.token_revoked.ch-1", "eventBody": body})

    frame = parse_frame(data, 1.0)

    assert isinstance(frame, SystemFrame)
    assert frame.channel_id == "ch-9"
    assert frame.kind == "token_revoked"


def test_socket_reply_404() -> None:
    frame = parse_frame(b'{"result":"404","message":"channel not found"}', 2.0)

    assert isinstance(frame, SocketReply)
    assert frame.result == "404"
    assert frame.body["message"] == "channel not found"


def test_socket_reply_numeric_result() -> None:
    frame = parse_frame(b'{"result": 404}', 2.0)

    assert isinstance(frame, SocketReply)
    assert frame.result == "404"


def test_whitespace_and_unknown_keys() -> None:
    data = '\n  {"topicName":"channel.metadata","eventBody":{"message":"pong"},"extra":1}  \r\n'

    assert parse_frame(data, 1.0) == Pong(1.0)


def test_invalid_json_names_length_not_content() -> None:
    data = '{"name": "Alex Sample" '

    with pytest.raises(FrameError) as caught:
        parse_frame(data, 1.0)

    assert "Alex" not in str(caught.value)
    assert f"{len(data)} characters" in str(caught.value)
    assert "position" in str(caught.value)


@pytest.mark.parametrize("data", ["[]", "42", '"text"', "null"])
def test_non_object_frame(data: str) -> None:
    with pytest.raises(FrameError, match="expected a JSON object"):
        parse_frame(data, 1.0)


def test_snapshot_without_id() -> None:
    data = b'{"topicName":"v2.users.u1.conversations","eventBody":{"participants":[]}}'

    with pytest.raises(FrameError, match=r"eventBody\.id"):
        parse_frame(data, 1.0)


def test_event_body_not_object() -> None:
    data = b'{"topicName":"v2.users.u1.conversations","eventBody":[1]}'

    with pytest.raises(FrameError, match="eventBody is an array"):
        parse_frame(data, 1.0)
