"""Shapes of rendered conversations compared with published Genesys Cloud payloads."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from simulator import shapes
from simulator.conversations import CALLBACK, CHAT, VOICE, Conversation, Leg, Media, Org, build_org

SAMPLES = Path(__file__).resolve().parents[1] / "samples"

START = 1_767_225_600.0
ORG: Org = build_org(__import__("random").Random(7), queues=2, agents=4)
QUEUE = ORG.queues[0].id
AGENTS = [user.id for user in ORG.users]


def load_sample(name: str) -> Any:
    return json.loads((SAMPLES / name).read_text())


def sample_callback_conversation(media: Media = CALLBACK) -> Conversation:
    """Build the conversation of the callback sample: two missed alerts, then an agent in ACW."""
    customer = Leg("p-customer", "c-customer", "customer", START, name="Alex Sample")
    customer.connected = START
    customer.queue_id = QUEUE
    acd = Leg("p-acd", "c-acd", "acd", START, queue_id=QUEUE, connected=START, peer_id="c-customer")

    # Agent 0 rejects the alert, agent 1 lets it time out, agent 2 answers.
    declined = Leg(
        "p-declined", "c-declined", "agent", START + 1, user_id=AGENTS[0], queue_id=QUEUE
    )
    declined.end, declined.disconnect_type, declined.peer_id = START + 5, "client", "c-customer"
    timed_out = Leg("p-timeout", "c-timeout", "agent", START + 6, user_id=AGENTS[1], queue_id=QUEUE)
    timed_out.end, timed_out.disconnect_type, timed_out.peer_id = START + 36, "system", "c-customer"
    agent = Leg("p-agent", "c-agent", "agent", START + 37, user_id=AGENTS[2], queue_id=QUEUE)
    agent.connected, agent.peer_id = START + 40, "c-customer"
    acd.end, acd.disconnect_type = agent.connected, "transfer"

    # A 30 s hold, the customer hangs up at +200 s, then 30 s of after-call work.
    agent.holds.append((START + 60, START + 90))
    customer.end, customer.disconnect_type = START + 200, "client"
    agent.end, agent.disconnect_type = START + 200, "peer"
    agent.acw_start, agent.acw_end = START + 200, START + 230
    agent.wrapup_code = ORG.wrapup_codes[0].id

    return Conversation(
        id="conversation-1",
        media=media,
        legs=[customer, acd, declined, timed_out, agent],
        customer_address="tel:+15555550100",
        dnis="tel:+18005550100",
        message_type=None,
        external_contact_id="contact-1",
        callback_scheduled=START - 60,
        recording=True,
        attributes={"language": "en-US"},
    )


def keys_by_purpose(participants: list[dict[str, Any]]) -> dict[str, set[str]]:
    keys: dict[str, set[str]] = {}
    for participant in participants:
        keys.setdefault(participant["purpose"], set()).update(participant)
    return keys


def communication_keys(participants: list[dict[str, Any]], array: str) -> set[str]:
    keys: set[str] = set()
    for participant in participants:
        for communication in participant.get(array, []):
            keys.update(communication)
    return keys


# Documented participant fields that the callback sample, captured while the customer
# was connected and the agent in ACW, does not show.
PARTICIPANT_EXTRAS = {"address", "endTime", "endAcwTime", "wrapup"}
# The sample's callbacks carry no direction or hold start, which other captures do.
COMMUNICATION_EXTRAS = {"direction", "startHoldTime"}


def test_snapshot_participant_keys_match_sample() -> None:
    sample = load_sample("conversation-user-topic-callback-connected.json")
    expected = keys_by_purpose(sample["eventBody"]["participants"])
    conversation = sample_callback_conversation()

    # Once during the hold and again after wrap-up, so every optional field appears.
    during_hold = shapes.notification_body(conversation, ORG, START + 70)["participants"]
    finished = shapes.notification_body(conversation, ORG, START + 300)["participants"]
    generated = keys_by_purpose(during_hold + finished)

    assert set(generated) == set(expected)
    for purpose, keys in expected.items():
        assert keys - generated[purpose] == set(), purpose
        assert generated[purpose] - keys <= PARTICIPANT_EXTRAS, purpose


def test_snapshot_communication_keys_match_sample() -> None:
    sample = load_sample("conversation-user-topic-callback-connected.json")
    expected = communication_keys(sample["eventBody"]["participants"], "callbacks")
    conversation = sample_callback_conversation()

    during_hold = shapes.notification_body(conversation, ORG, START + 70)["participants"]
    during_acw = shapes.notification_body(conversation, ORG, START + 210)["participants"]
    generated = communication_keys(during_hold + during_acw, "callbacks")

    assert expected - generated == set()
    assert generated - expected <= COMMUNICATION_EXTRAS


def test_snapshot_top_level_keys_cover_sample() -> None:
    sample = load_sample("conversation-user-topic-callback-connected.json")
    body = shapes.notification_body(sample_callback_conversation(), ORG, START + 70)

    assert set(sample["eventBody"]) - set(body) == set()


def test_snapshot_during_acw_matches_sample_agent() -> None:
    body = shapes.notification_body(sample_callback_conversation(), ORG, START + 210)
    agent = body["participants"][4]
    callback = agent["callbacks"][0]

    assert agent["wrapupRequired"] is True
    assert agent["startAcwTime"] == shapes.iso(START + 200)
    assert "endAcwTime" not in agent
    assert "endTime" not in agent
    assert callback["afterCallWork"] == {"state": "pending", "startTime": shapes.iso(START + 200)}
    assert callback["state"] == "disconnected"
    assert callback["disconnectType"] == "peer"


def test_snapshot_missed_alerts_never_connect() -> None:
    body = shapes.notification_body(sample_callback_conversation(), ORG, START + 300)
    declined, timed_out = body["participants"][2], body["participants"][3]

    for participant, disconnect_type in ((declined, "client"), (timed_out, "system")):
        callback = participant["callbacks"][0]
        assert "connectedTime" not in participant
        assert "connectedTime" not in callback
        assert callback["state"] == "disconnected"
        assert callback["disconnectType"] == disconnect_type
        assert participant["wrapupRequired"] is False


def test_snapshot_agent_alerting_before_answer() -> None:
    body = shapes.notification_body(sample_callback_conversation(), ORG, START + 38)
    agent = body["participants"][4]

    assert agent["callbacks"][0]["state"] == "alerting"
    assert "connectedTime" not in agent
    assert len(body["participants"]) == 5


def test_snapshot_held_is_transient() -> None:
    conversation = sample_callback_conversation()

    held = shapes.notification_body(conversation, ORG, START + 70)["participants"][4]
    after = shapes.notification_body(conversation, ORG, START + 100)["participants"][4]

    assert held["callbacks"][0]["held"] is True
    assert held["callbacks"][0]["startHoldTime"] == shapes.iso(START + 60)
    assert after["callbacks"][0]["held"] is False
    assert "startHoldTime" not in after["callbacks"][0]


def test_snapshot_wrapup_after_acw() -> None:
    body = shapes.notification_body(sample_callback_conversation(), ORG, START + 230)
    agent = body["participants"][4]

    assert agent["wrapup"]["code"] == ORG.wrapup_codes[0].id
    assert agent["wrapup"]["durationSeconds"] == 30
    assert agent["endAcwTime"] == shapes.iso(START + 230)
    assert agent["endTime"] == shapes.iso(START + 230)
    assert agent["callbacks"][0]["disconnectedTime"] == shapes.iso(START + 200)
    assert agent["callbacks"][0]["afterCallWork"]["state"] == "complete"


def test_snapshot_voice_calls_have_self_and_other() -> None:
    body = shapes.notification_body(sample_callback_conversation(VOICE), ORG, START + 70)
    call = body["participants"][0]["calls"][0]

    assert call["self"]["addressNormalized"] == "tel:+15555550100"
    assert call["other"]["addressNormalized"] == "tel:+18005550100"
    assert call["muted"] is False
    assert call["recording"] is True
    assert "ani" not in call


def test_iso_has_milliseconds_and_z() -> None:
    assert shapes.iso(1_656_965_052.131) == "2022-07-04T20:04:12.131Z"
    assert shapes.iso(1_656_965_052.0) == "2022-07-04T20:04:12.000Z"
    assert shapes.iso(1_656_965_052.9996) == "2022-07-04T20:04:13.000Z"


def test_rest_shape_uses_user_and_queue_name() -> None:
    body = shapes.rest_conversation(sample_callback_conversation(VOICE), ORG, START + 70)
    agent = body["participants"][4]
    customer = body["participants"][0]
    call = customer["calls"][0]

    assert agent["user"]["id"] == AGENTS[2]
    assert agent["user"]["name"] == ORG.users[2].name
    assert "userId" not in agent
    assert agent["queueName"] == ORG.queues[0].name
    assert call["ani"] == "tel:+15555550100"
    assert call["dnis"] == "tel:+18005550100"
    assert "self" not in call
    assert "additionalProperties" not in agent
    assert body["startTime"] == shapes.iso(START)
    assert body["selfUri"] == "/api/v2/conversations/conversation-1"
    assert body["divisions"][0]["division"]["id"] == ORG.division_id
    assert "endTime" not in body


def test_rest_shape_ended_has_end_time() -> None:
    body = shapes.rest_conversation(sample_callback_conversation(), ORG, START + 1000)

    assert body["endTime"] == shapes.iso(START + 230)
    assert all("endTime" in participant for participant in body["participants"])


def test_rest_ids_match_snapshot_ids() -> None:
    conversation = sample_callback_conversation()
    rest = shapes.rest_conversation(conversation, ORG, START + 70)
    snapshot = shapes.notification_body(conversation, ORG, START + 70)

    rest_ids = [(p["id"], p["callbacks"][0]["id"]) for p in rest["participants"]]
    snapshot_ids = [(p["id"], p["callbacks"][0]["id"]) for p in snapshot["participants"]]
    assert rest_ids == snapshot_ids


def test_analytics_keys_match_sample() -> None:
    sample = load_sample("analytics-conversation-record.json")
    record = shapes.analytics_record(sample_callback_conversation(CHAT), ORG, START + 1000)

    assert set(sample) == set(record) | {
        "mediaStatsMinConversationMos",
        "mediaStatsMinConversationRFactor",
    }
    sample_participants = keys_by_purpose(sample["participants"])
    generated_participants = keys_by_purpose(record["participants"])
    for purpose, keys in sample_participants.items():
        assert generated_participants[purpose] == keys, purpose

    def union(records: list[dict[str, Any]], path: str) -> set[str]:
        keys: set[str] = set()
        for participant in records:
            for session in participant["sessions"]:
                items = [session] if path == "session" else session[path]
                for item in items:
                    keys.update(item)
        return keys

    for path in ("session", "segments", "metrics"):
        expected = union(sample["participants"], path)
        # The sample has no wrap-up segment, the one segment type with a code.
        if path == "segments":
            expected.add("wrapUpCode")
        assert union(record["participants"], path) == expected, path


def test_analytics_voice_record_has_media_stats() -> None:
    record = shapes.analytics_record(sample_callback_conversation(VOICE), ORG, START + 1000)
    session = record["participants"][0]["sessions"][0]

    assert "mediaStatsMinConversationMos" in record
    assert session["ani"] == "tel:+15555550100"
    assert session["dnis"] == "tel:+18005550100"


def test_analytics_ids_match_snapshot_ids() -> None:
    conversation = sample_callback_conversation()
    record = shapes.analytics_record(conversation, ORG, START + 1000)

    analytics_ids = [
        (p["participantId"], p["sessions"][0]["sessionId"]) for p in record["participants"]
    ]
    leg_ids = [(leg.participant_id, leg.communication_id) for leg in conversation.legs]
    assert analytics_ids == leg_ids


def test_analytics_agent_segments() -> None:
    record = shapes.analytics_record(sample_callback_conversation(), ORG, START + 1000)
    agent = record["participants"][4]
    segments = agent["sessions"][0]["segments"]

    assert [s["segmentType"] for s in segments] == [
        "alert",
        "interact",
        "hold",
        "interact",
        "wrapup",
    ]
    assert segments[3]["disconnectType"] == "peer"
    assert segments[4]["wrapUpCode"] == ORG.wrapup_codes[0].id
    assert all("segmentEnd" in segment for segment in segments)
    assert agent["userId"] == AGENTS[2]


def test_analytics_missed_alert_segments() -> None:
    record = shapes.analytics_record(sample_callback_conversation(), ORG, START + 1000)
    timed_out = record["participants"][3]["sessions"][0]
    metric_names = {metric["name"] for metric in timed_out["metrics"]}

    assert [s["segmentType"] for s in timed_out["segments"]] == ["alert"]
    assert timed_out["segments"][0]["disconnectType"] == "system"
    assert "tNotResponding" in metric_names


def test_analytics_ongoing_segments_are_open() -> None:
    record = shapes.analytics_record(sample_callback_conversation(), ORG, START + 70)
    agent_segments = record["participants"][4]["sessions"][0]["segments"]
    customer_segments = record["participants"][0]["sessions"][0]["segments"]

    assert "conversationEnd" not in record
    assert [s["segmentType"] for s in agent_segments] == ["alert", "interact", "hold"]
    assert "segmentEnd" not in agent_segments[-1]
    assert "segmentEnd" not in customer_segments[-1]
    assert "disconnectType" not in customer_segments[-1]


def test_analytics_metrics_need_completion() -> None:
    conversation = sample_callback_conversation()
    during = shapes.analytics_record(conversation, ORG, START + 70)
    after = shapes.analytics_record(conversation, ORG, START + 1000)

    def agent_metrics(record: dict[str, Any]) -> dict[str, int]:
        metrics = record["participants"][4]["sessions"][0]["metrics"]
        return {metric["name"]: metric["value"] for metric in metrics}

    assert "tTalk" not in agent_metrics(during)
    assert agent_metrics(after)["tHeld"] == 30_000
    assert agent_metrics(after)["tTalk"] == 130_000
    assert agent_metrics(after)["tAcw"] == 30_000
    assert agent_metrics(after)["tHandle"] == 190_000


DETAIL_SAMPLE_OPTIONAL = {"externalOrganizationId"}


def test_detail_event_keys_match_sample() -> None:
    sample = load_sample("eventbridge-detail-customer-start.json")["detail"]["eventBody"]
    events = shapes.detail_events(sample_callback_conversation(CHAT), ORG)
    customer_start = next(body for _, kind, body in events if kind == "customer.start")

    assert set(sample) - set(customer_start) == DETAIL_SAMPLE_OPTIONAL
    assert isinstance(customer_start["eventTime"], int)
    assert customer_start["mediaType"] == "CHAT"
    assert customer_start["direction"] == "INBOUND"


def test_detail_events_cover_every_leg() -> None:
    events = shapes.detail_events(sample_callback_conversation(), ORG)
    kinds = [kind for _, kind, _ in events]

    assert kinds.count("customer.start") == 1
    assert kinds.count("acd.start") == 1
    assert kinds.count("user.start") == 3
    assert kinds.count("user.end") == 3
    assert kinds.count("acw") == 1
    assert kinds.count("wrapup") == 1
    assert [time for time, _, _ in events] == sorted(time for time, _, _ in events)


def test_detail_end_events_carry_disconnect_type() -> None:
    events = shapes.detail_events(sample_callback_conversation(), ORG)
    ends = {body["participantId"]: body for _, kind, body in events if kind.endswith(".end")}

    assert ends["p-acd"]["disconnectType"] == "TRANSFER"
    assert ends["p-declined"]["disconnectType"] == "CLIENT"
    assert ends["p-timeout"]["disconnectType"] == "SYSTEM"
    assert ends["p-agent"]["userId"] == AGENTS[2]
    assert ends["p-agent"]["queueId"] == QUEUE
    assert ends["p-agent"]["heldDurationMs"] == 30_000
    assert ends["p-agent"]["eventTime"] == shapes.epoch_ms(START + 200)


def test_queue_ids_wait_for_routing() -> None:
    conversation = sample_callback_conversation(VOICE)
    customer = conversation.legs[0]
    # Put the customer in an IVR first: the queue is known but not reached.
    for leg in conversation.legs[1:]:
        leg.start += 20
    body = shapes.notification_body(conversation, ORG, START + 10)

    assert shapes.queue_ids_at(conversation, START + 10) == []
    assert "queueId" not in body["participants"][0]
    assert customer.queue_id == QUEUE
    assert shapes.queue_ids_at(conversation, START + 20) == [QUEUE]


@pytest.mark.parametrize("at", [START, START + 38, START + 70, START + 210, START + 1000])
def test_snapshot_is_json(at: float) -> None:
    body = shapes.notification_body(sample_callback_conversation(), ORG, at)

    assert json.loads(json.dumps(body)) == body
