from collections.abc import Callable
from typing import Any

from handlers.frames import DetailFrame, parse_frame
from handlers.normalize import (
    ANALYTICS,
    REST,
    from_analytics,
    from_detail,
    from_frame,
    from_rest,
    from_snapshot,
)

CALLBACK = "conversation-user-topic-callback-connected.json"
ANALYTICS_SAMPLE = "analytics-conversation-record.json"


def test_snapshot_sample_shape(sample: Callable[[str], Any]) -> None:
    observation = from_snapshot(sample(CALLBACK)["eventBody"], 1.0)

    assert observation.conversation_id == "ffff-ffff-ffff-ffff"
    assert len(observation.participants) == 5
    assert observation.report.count == 0
    assert observation.fields["recordingState"] == "none"


def test_snapshot_communication_key_and_times(sample: Callable[[str], Any]) -> None:
    observation = from_snapshot(sample(CALLBACK)["eventBody"], 1.0)
    agent = observation.participants[4]
    callback = agent.communications[0]

    assert (callback.media, callback.id) == ("callback", "19c34168-ccb5-45d5-a9d9-a89caf74e586")
    assert callback.fields["state"] == "connected"
    assert callback.times["connectedTime"] == "2022-07-04T20:07:20.528Z"
    assert callback.stamp == (2, "2022-07-04T20:08:25.397Z")
    assert agent.fields["userId"] == "AGENT_USER_ID"
    assert agent.times["startAcwTime"] == "2022-07-04T20:08:25.397Z"


def test_snapshot_marks_missing_transient_fields() -> None:
    body = {
        "id": "c1",
        "participants": [{"id": "p1", "calls": [{"id": "k1", "state": "connected"}]}],
    }

    communication = from_snapshot(body, 1.0).participants[0].communications[0]

    assert communication.fields["held"] is None
    assert communication.fields["muted"] is None


def test_snapshot_acd_participant_gives_queue(sample: Callable[[str], Any]) -> None:
    observation = from_snapshot(sample(CALLBACK)["eventBody"], 1.0)

    assert observation.queues == {
        "0e185c02-aca1-4a72-82ea-2e78684e2c89": "2022-07-04T20:04:12.132Z"
    }


def test_rest_shape_user_and_queue_objects() -> None:
    body = {
        "id": "c1",
        "startTime": "2026-01-01T10:00:00Z",
        "participants": [
            {
                "id": "p1",
                "purpose": "agent",
                "user": {"id": "u1", "name": "Agent"},
                "queue": {"id": "q1"},
                "calls": [{"id": "k1", "state": "CONNECTED", "ani": "tel:+15555550100"}],
            }
        ],
    }

    observation = from_rest(body, 1.0)
    participant = observation.participants[0]

    assert observation.kind == REST
    assert observation.source == "backfill"
    assert observation.times["startTime"] == "2026-01-01T10:00:00.000Z"
    assert participant.fields["userId"] == "u1"
    assert participant.fields["queueId"] == "q1"
    assert "user" not in participant.fields
    assert participant.communications[0].fields["state"] == "connected"
    assert participant.communications[0].fields["ani"] == "tel:+15555550100"


def test_analytics_sample_normalizes(sample: Callable[[str], Any]) -> None:
    observation = from_analytics(sample(ANALYTICS_SAMPLE), 1.0)
    agent = observation.participants[2]
    chat = agent.communications[0]

    assert observation.kind == ANALYTICS
    assert observation.conversation_id == "1bc96a39-6725-40c4-9345-db72aa67b8c6"
    assert observation.times == {
        "startTime": "2021-04-01T12:27:53.386Z",
        "endTime": "2021-04-01T12:43:23.306Z",
    }
    assert len(observation.participants) == 3
    assert (chat.media, chat.id) == ("chat", "b9ea3521-176e-4916-af7d-240732fc4680")
    assert chat.fields["state"] == "disconnected"
    assert chat.fields["disconnectType"] == "peer"
    assert chat.times["connectedTime"] == "2021-04-01T12:28:04.569Z"
    assert chat.times["disconnectedTime"] == "2021-04-01T12:43:23.306Z"
    assert agent.fields["userId"] == "50fcd33c-f432-4726-abc9-979f3ca01555"
    assert agent.fields["queueId"] == "a623d83c-96d7-4baa-af1f-d46ad6700d8b"
    assert observation.participants[0].fields["name"] == "John Doe"
    assert observation.queues == {
        "a623d83c-96d7-4baa-af1f-d46ad6700d8b": "2021-04-01T12:27:53.388Z"
    }


def test_analytics_keeps_unknown_record_keys(sample: Callable[[str], Any]) -> None:
    observation = from_analytics(sample(ANALYTICS_SAMPLE), 1.0)

    assert observation.fields["originatingDirection"] == "inbound"
    assert observation.participants[1].communications[0].fields["remote"] == "John Doe"


def test_analytics_open_session_is_connected() -> None:
    record = {
        "conversationId": "c1",
        "conversationStart": "2026-01-01T10:00:00.000Z",
        "participants": [
            {
                "participantId": "p1",
                "purpose": "customer",
                "sessions": [
                    {
                        "mediaType": "voice",
                        "sessionId": "s1",
                        "segments": [
                            {"segmentStart": "2026-01-01T10:00:00.000Z", "segmentType": "interact"}
                        ],
                    }
                ],
            }
        ],
    }

    communication = from_analytics(record, 1.0).participants[0].communications[0]

    assert communication.fields["state"] == "connected"
    assert "disconnectedTime" not in communication.times


def test_detail_eventbridge_sample(sample_text: Callable[[str], bytes]) -> None:
    frame = parse_frame(sample_text("eventbridge-detail-customer-start.json"), 1.0)
    assert isinstance(frame, DetailFrame)

    observation = from_frame(frame)
    participant = observation.participants[0]
    communication = participant.communications[0]

    assert observation.source == "eventbridge"
    assert observation.event_time == "2022-04-06T09:30:44.949Z"
    assert participant.fields["purpose"] == "customer"
    assert (communication.media, communication.id) == (
        "chat",
        "c03d300e-fa79-4353-9695-b97a71322785",
    )
    assert communication.fields["state"] == "connected"
    assert communication.fields["direction"] == "inbound"
    assert communication.fields["externalContactId"] == "uwu"
    assert observation.report.count == 0


def test_detail_user_end_ends_session_only() -> None:
    body = {"eventTime": 1000, "participantId": "p1", "sessionId": "s1", "mediaType": "VOICE"}

    observation = from_detail(body, "user.end", 1.0, conversation_id="c1")
    participant = observation.participants[0]

    assert participant.fields["purpose"] == "agent"
    assert "endTime" not in participant.times
    assert participant.communications[0].fields["state"] == "disconnected"
    assert participant.communications[0].times["disconnectedTime"] == "1970-01-01T00:00:01.000Z"


def test_detail_acw_ends_agent_participant() -> None:
    body = {"eventTime": 2000, "participantId": "p1", "sessionId": "s1", "wrapupCode": "w1"}

    participant = from_detail(body, "acw", 1.0, conversation_id="c1").participants[0]

    assert participant.times["endAcwTime"] == "1970-01-01T00:00:02.000Z"
    assert participant.times["endTime"] == "1970-01-01T00:00:02.000Z"
    assert participant.fields["wrapup"] == {"code": "w1"}


def test_detail_unknown_kind_and_keys_counted() -> None:
    body = {"eventTime": 1000, "participantId": "p1", "sessionId": "s1", "mediaType": "x", "z": 1}

    observation = from_detail(body, "user.teleport", 1.0, conversation_id="c1")

    assert observation.report.paths == ("detail.user.teleport", "detail.z", "mediaType.x")
    assert observation.participants[0].communications[0].fields["z"] == 1


def test_missing_everything_never_raises() -> None:
    assert from_snapshot({}, 1.0).report.count == 1
    assert from_detail({}, "acw", 1.0).report.count >= 1
    assert from_analytics({"participants": [1, {"sessions": 2}]}, 1.0).report.count >= 2
    assert from_rest({"id": "c1", "participants": "none"}, 1.0).report.paths == ("participants",)
