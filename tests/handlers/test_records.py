import copy
from collections.abc import Callable
from typing import Any

import orjson
import pytest

from handlers.frames import SnapshotFrame, parse_document
from handlers.lifecycle import LifecycleEvent
from handlers.merge import join_states, merge
from handlers.normalize import from_analytics, from_detail, from_frame, from_snapshot
from handlers.records import (
    MESSAGE_SCHEMA,
    RecordError,
    decode_state,
    encode_message,
    encode_state,
    validate_message,
)
from handlers.state import ConversationState
from stores.base import StateRecord
from tests.handlers.stories import transfer_story

CALLBACK = "conversation-user-topic-callback-connected.json"


def callback_state(sample: Callable[[str], Any]) -> ConversationState:
    return merge(None, from_snapshot(sample(CALLBACK)["eventBody"], 1.0)).state


def ended_state() -> ConversationState:
    state = None
    for observation in transfer_story(agents=2).observations:
        state = merge(state, observation).state
    assert state is not None
    return state


def test_item_layout(sample: Callable[[str], Any]) -> None:
    record = encode_state(callback_state(sample), updated_at=1_700_000_000.5, ttl_seconds=3600)
    item = record.item

    assert record.conversation_id == "ffff-ffff-ffff-ffff"
    assert record.revision == 1
    assert item["conversationId"] == "ffff-ffff-ffff-ffff"
    assert item["state"] == "active"
    assert item["startTime"] == "2022-07-04T20:04:12.131Z"
    assert item["endTime"] is None
    assert item["mediaTypes"] == ["callback"]
    assert item["userIds"] == ["AGENT_USER_ID"]
    assert item["revision"] == 1
    assert item["updatedAt"] == "2023-11-14T22:13:20.500Z"
    assert item["schemaVersion"] == 1
    assert "expiresAt" not in item
    assert len(item["participants"]) == 5


def test_item_participant_readable(sample: Callable[[str], Any]) -> None:
    item = encode_state(callback_state(sample), updated_at=0.0, ttl_seconds=60).item
    agent = item["participants"][4]
    callback = agent["communications"][0]

    assert agent["id"] == "5151853c-ca28-48da-bdcd-f15c46f0712e"
    assert agent["userId"] == "AGENT_USER_ID"
    assert agent["purpose"] == "agent"
    assert callback["mediaType"] == "callback"
    assert callback["state"] == "connected"
    assert callback["connectedTime"] == "2022-07-04T20:07:20.528Z"


def test_item_is_json_without_floats(sample: Callable[[str], Any]) -> None:
    item = encode_state(callback_state(sample), updated_at=12.25, ttl_seconds=60).item

    def floats(value: Any) -> int:
        if isinstance(value, float):
            return 1
        if isinstance(value, dict):
            return sum(floats(v) for v in value.values())
        if isinstance(value, list):
            return sum(floats(v) for v in value)
        return 0

    assert orjson.loads(orjson.dumps(item)) == item
    assert floats(item) == 0


def test_ended_item_expires_after_end() -> None:
    state = ended_state()

    item = encode_state(state, updated_at=0.0, ttl_seconds=86400).item

    assert item["state"] == "ended"
    assert item["endTime"] == "2026-03-02T09:00:10.000Z"
    assert item["expiresAt"] == 1772442010 + 86400
    assert item["queueHistory"] == [
        {"queueId": "queue-1", "time": "2026-03-02T09:00:01.000Z"},
        {"queueId": "queue-2", "time": "2026-03-02T09:00:06.000Z"},
    ]


def test_state_round_trips(sample: Callable[[str], Any]) -> None:
    for state in (callback_state(sample), ended_state()):
        record = encode_state(state, updated_at=5.0, ttl_seconds=60)

        assert decode_state(record) == state


def test_decode_rejects_foreign_item() -> None:
    record = StateRecord("c1", 3, {"conversationId": "c1", "revision": 3})

    with pytest.raises(RecordError, match="conversation c1"):
        decode_state(record)


def message_for(sample: Callable[[str], Any], correlation_id: str, topic: str) -> Any:
    document = copy.deepcopy(sample(CALLBACK))
    document["metadata"]["CorrelationId"] = correlation_id
    document["topicName"] = topic
    frame = parse_document(document, 1_700_000_000.0)
    assert isinstance(frame, SnapshotFrame)
    observation = from_frame(frame)
    result = merge(None, observation)
    return encode_message(result.events[0], result.state, observation, frame.received_at)


def test_message_validates(sample: Callable[[str], Any]) -> None:
    message = message_for(sample, "corr-1", "v2.users.AGENT_USER_ID.conversations")
    body = orjson.loads(message.body)

    assert validate_message(body) == []
    assert body["schema"] == "genesys-stream.event/1"
    assert body["type"] == "conversation.started"
    assert body["source"] == "websocket"
    assert body["correlationId"] == "corr-1"
    assert body["receivedAt"] == "2023-11-14T22:13:20.000Z"
    assert body["summary"]["state"] == "active"
    assert body["body"]["id"] == "ffff-ffff-ffff-ffff"
    assert message.attributes == {
        "type": "conversation.started",
        "conversationId": "ffff-ffff-ffff-ffff",
    }


def test_deduplication_id_ignores_correlation_and_topic(sample: Callable[[str], Any]) -> None:
    first = message_for(sample, "corr-1", "v2.users.AGENT_USER_ID.conversations")
    again = message_for(sample, "corr-2", "v2.users.AGENT_USER_ID.conversations.callbacks")

    assert first.deduplication_id == again.deduplication_id
    assert len(first.deduplication_id) == 64
    assert first.body != again.body


def test_deduplication_id_differs_per_event(sample: Callable[[str], Any]) -> None:
    state = callback_state(sample)
    observation = from_snapshot(sample(CALLBACK)["eventBody"], 1.0)
    started = LifecycleEvent("conversation.started", state.conversation_id)
    joined = LifecycleEvent("participant.joined", state.conversation_id, "p1")

    first = encode_message(started, state, observation, 1.0)
    second = encode_message(joined, state, observation, 1.0)

    assert first.deduplication_id != second.deduplication_id


def test_validate_message_lists_problems() -> None:
    problems = validate_message({"schema": "other", "type": "x", "revision": 0, "extra": 1})

    assert "$: missing required key 'conversationId'." in problems
    assert "$: unexpected key 'extra'." in problems
    assert "$.revision: 0 is less than 1." in problems
    assert any(p.startswith("$.type:") for p in problems)
    assert any(p.startswith("$.schema:") for p in problems)


def test_validate_message_rejects_non_object() -> None:
    assert validate_message([]) == ["$: expected object, got list."]


def test_schema_agrees_with_jsonschema(sample: Callable[[str], Any]) -> None:
    jsonschema = pytest.importorskip("jsonschema")
    message = message_for(sample, "corr-1", "v2.users.AGENT_USER_ID.conversations")

    jsonschema.Draft202012Validator.check_schema(MESSAGE_SCHEMA)
    jsonschema.validate(orjson.loads(message.body), MESSAGE_SCHEMA)


def test_trimmed_attributes_decode_as_unknown(sample: Callable[[str], Any]) -> None:
    state = callback_state(sample)
    record = encode_state(state, updated_at=0.0, ttl_seconds=60)
    customer_id = "9a0231a0-8882-41bb-9b2c-d2f275736270"
    for participant in record.item["participants"]:
        if participant["id"] == customer_id:
            participant["attributes"] = {}
    record.item["trimmed"] = True
    record.item["trimmedParticipants"] = [customer_id]

    decoded = decode_state(record)
    rejoined = join_states(decoded, state)

    assert "attributes" not in decoded.participants[customer_id].fields
    assert rejoined.participants[customer_id].fields["attributes"][1]["number"] == ""


def large_snapshot(count: int) -> dict[str, Any]:
    participants = [
        {
            "id": f"00000000-0000-4000-8000-{index:012d}",
            "purpose": "customer",
            "calls": [{"id": f"10000000-0000-4000-8000-{index:012d}", "state": "connected"}],
        }
        for index in range(count)
    ]
    return {"id": "c0ffee00-0000-4000-8000-000000000002", "participants": participants}


def test_large_snapshot_messages_stay_small() -> None:
    document = large_snapshot(2000)
    snapshot_size = len(orjson.dumps(document))
    observation = from_snapshot(document, 1.0, topic="v2.users.u1.conversations")

    result = merge(None, observation)
    messages = [encode_message(e, result.state, observation, 1.0) for e in result.events]
    joined = [m for m in messages if m.event_type == "participant.joined"]
    total_size = sum(len(m.body) for m in messages)

    assert len(messages) == 2001
    assert len(joined) == 2000
    assert total_size < 10 * snapshot_size
    assert max(len(m.body) for m in joined) < 1000


def test_participant_message_carries_entry() -> None:
    document = large_snapshot(3)
    observation = from_snapshot(document, 1.0)
    result = merge(None, observation)

    joined = [e for e in result.events if e.type == "participant.joined"]
    bodies = [orjson.loads(encode_message(e, result.state, observation, 1.0).body) for e in joined]

    assert [body["body"] for body in bodies] == document["participants"]
    for body in bodies:
        assert validate_message(body) == []
        assert body["participantId"] == body["body"]["id"]


def test_participant_message_deduplicates() -> None:
    first = from_snapshot(large_snapshot(3), 1.0, topic="v2.users.u1.conversations")
    again = from_snapshot(large_snapshot(3), 2.0, topic="v2.users.u2.conversations")
    state = merge(None, first).state
    unknown = LifecycleEvent("participant.joined", state.conversation_id, "p-missing")
    joined = LifecycleEvent(
        "participant.joined", state.conversation_id, "00000000-0000-4000-8000-000000000001"
    )

    missing = orjson.loads(encode_message(unknown, state, first, 1.0).body)

    assert (
        encode_message(joined, state, first, 1.0).deduplication_id
        == encode_message(joined, state, again, 2.0).deduplication_id
    )
    assert missing["body"] == {}
    assert validate_message(missing) == []


def test_participant_body_detail_and_analytics(sample: Callable[[str], Any]) -> None:
    detail_body = {"eventTime": 1000, "participantId": "p1", "sessionId": "s1", "extra": "x" * 50}
    detail = from_detail(detail_body, "customer.start", 1.0, conversation_id="c1")
    record = sample("analytics-conversation-record.json")
    analytics = from_analytics(record, 1.0)
    first_entry = record["participants"][0]

    assert detail.participant_body("p1") is detail_body
    assert detail.participant_body("p2") == {}
    assert analytics.participant_body(first_entry["participantId"]) is first_entry
