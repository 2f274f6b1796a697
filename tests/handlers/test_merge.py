import copy
import dataclasses
from collections.abc import Callable
from typing import Any

import pytest

from handlers.frames import SnapshotFrame, parse_document
from handlers.lifecycle import (
    CONVERSATION_ENDED,
    CONVERSATION_STARTED,
    CONVERSATION_UPDATED,
    PARTICIPANT_JOINED,
    PARTICIPANT_LEFT,
)
from handlers.merge import join_states, merge, project
from handlers.normalize import Observation, from_analytics, from_detail, from_frame, from_snapshot
from handlers.state import (
    ConversationState,
    participant_active,
    queue_history,
    same_content,
    summarize,
)
from tests.handlers.stories import iso, millis, transfer_story

CALLBACK = "conversation-user-topic-callback-connected.json"


def merge_all(observations: list[Observation]) -> ConversationState:
    state = None
    for observation in observations:
        state = merge(state, observation).state
    assert state is not None
    return state


def callback_frame(sample: Callable[[str], Any], topic: str, correlation_id: str) -> SnapshotFrame:
    document = sample(CALLBACK)
    document["topicName"] = topic
    document["metadata"]["CorrelationId"] = correlation_id
    frame = parse_document(document, 1.0)
    assert isinstance(frame, SnapshotFrame)
    return frame


def test_callback_sample_state(sample: Callable[[str], Any]) -> None:
    state = merge(None, from_snapshot(sample(CALLBACK)["eventBody"], 1.0)).state
    view = project(state)
    agents = [p for p in view["participants"].values() if p["purpose"] == "agent"]
    ended = [p for p in agents if p["endTime"] is not None]
    connected = [
        p for p in agents if [c["state"] for c in p["communications"].values()] == ["connected"]
    ]

    assert view["state"] == "active"
    assert len(view["participants"]) == 5
    assert len(agents) == 3
    assert len(ended) == 2
    assert len(connected) == 1
    assert view["startTime"] == "2022-07-04T20:04:12.131Z"
    assert view["endTime"] is None


def test_callback_sample_summary(sample: Callable[[str], Any]) -> None:
    state = merge(None, from_snapshot(sample(CALLBACK)["eventBody"], 1.0)).state

    summary = summarize(state)

    assert summary.media_types == ("callback",)
    assert summary.queue_ids == ("0e185c02-aca1-4a72-82ea-2e78684e2c89",)
    assert summary.user_ids == ("AGENT_USER_ID",)


def test_first_merge_events(sample: Callable[[str], Any]) -> None:
    result = merge(None, from_snapshot(sample(CALLBACK)["eventBody"], 1.0))
    types = [event.type for event in result.events]

    assert result.changed
    assert result.state.revision == 1
    assert types[0] == CONVERSATION_STARTED
    assert types.count(PARTICIPANT_JOINED) == 5
    assert types.count(PARTICIPANT_LEFT) == 3


def test_duplicates_change_once(sample: Callable[[str], Any]) -> None:
    topics = [
        "v2.users.AGENT_USER_ID.conversations",
        "v2.users.AGENT_USER_ID.conversations",
        "v2.users.AGENT_USER_ID.conversations",
        "v2.routing.queues.0e185c02-aca1-4a72-82ea-2e78684e2c89.conversations",
        "v2.users.AGENT_USER_ID.conversations.callbacks",
    ]
    results = []
    state = None
    for index, topic in enumerate(topics):
        result = merge(state, from_frame(callback_frame(sample, topic, f"corr-{index}")))
        results.append(result)
        state = result.state

    assert [r.changed for r in results] == [True, False, False, False, False]
    assert sum(len(r.events) for r in results[1:]) == 0
    assert {r.state.revision for r in results} == {1}
    assert all(r.state is results[0].state for r in results)


def test_detail_events_out_of_order() -> None:
    start = {"eventTime": millis(0), "participantId": "p1", "sessionId": "s1", "mediaType": "VOICE"}
    end = {**start, "eventTime": millis(175), "disconnectType": "client"}
    in_order = [from_detail(start, "user.start", 1.0, conversation_id="c1")]
    in_order.append(from_detail(end, "user.end", 1.0, conversation_id="c1"))

    forward = merge_all(in_order)
    backward = merge_all(in_order[::-1])

    assert same_content(forward, backward)
    assert project(backward)["participants"]["p1"]["communications"]["voice:s1"] == {
        "state": "disconnected",
        "connectedTime": None,
        "disconnectedTime": iso(175),
        "disconnectType": "client",
    }


def test_snapshots_reversed() -> None:
    snapshots = [o for o in transfer_story().observations if o.kind == "snapshot"]

    forward = merge_all(snapshots)
    backward = merge_all(snapshots[::-1])

    assert same_content(forward, backward)
    assert project(forward)["state"] == "ended"


def transfer_events() -> list[tuple[str, dict[str, Any]]]:
    """The detail events of a transfer: customer, Q1, agent A, transfer, Q2, agent B."""

    def body(at: int, participant: str, session: str, **extra: Any) -> dict[str, Any]:
        return {
            "eventTime": millis(at),
            "conversationId": "c14",
            "participantId": participant,
            "sessionId": session,
            "mediaType": "VOICE",
            **extra,
        }

    return [
        ("customer.start", body(0, "p-customer", "s-customer")),
        ("acd.start", body(100, "p-acd-1", "s-acd-1", queueId="Q1")),
        ("user.start", body(200, "p-a", "s-a", userId="A", queueId="Q1")),
        ("user.end", body(5000, "p-a", "s-a", userId="A", disconnectType="transfer")),
        ("acd.start", body(5100, "p-acd-2", "s-acd-2", queueId="Q2")),
        ("user.start", body(5200, "p-b", "s-b", userId="B", queueId="Q2")),
        ("customer.end", body(9000, "p-customer", "s-customer", disconnectType="peer")),
    ]


def test_transfer_is_not_an_end() -> None:
    state = None
    types: list[list[str]] = []
    for kind, body in transfer_events():
        result = merge(state, from_detail(body, kind, 1.0))
        state = result.state
        types.append([event.type for event in result.events])
        if kind != "customer.end":
            assert summarize(state).state == "active", kind

    assert state is not None
    assert all(CONVERSATION_ENDED not in step for step in types[:-1])
    assert CONVERSATION_ENDED in types[-1]
    assert summarize(state).state == "ended"
    assert summarize(state).end_time == iso(9000)


def test_transfer_agents_and_queues() -> None:
    state = merge_all([from_detail(body, kind, 1.0) for kind, body in transfer_events()[:-1]])

    assert not participant_active(state.participants["p-a"])
    assert participant_active(state.participants["p-b"])
    assert queue_history(state) == ["Q1", "Q2"]
    assert (
        project(state)["participants"]["p-a"]["communications"]["voice:s-a"]["disconnectType"]
        == "transfer"
    )


def test_user_end_emits_participant_left() -> None:
    events = transfer_events()
    state = merge_all([from_detail(body, kind, 1.0) for kind, body in events[:3]])

    result = merge(state, from_detail(events[3][1], events[3][0], 1.0))

    assert [(e.type, e.participant_id) for e in result.events] == [
        (CONVERSATION_UPDATED, None),
        (PARTICIPANT_LEFT, "p-a"),
    ]


def test_new_leg_after_customer_end_reopens() -> None:
    events = transfer_events()
    state = merge_all([from_detail(body, kind, 1.0) for kind, body in events])
    late = {
        "eventTime": millis(12000),
        "participantId": "p-c",
        "sessionId": "s-c",
        "mediaType": "VOICE",
    }

    result = merge(state, from_detail(late, "user.start", 1.0, conversation_id="c14"))

    assert summarize(result.state).state == "active"
    assert result.events[0].type == CONVERSATION_STARTED


def drifted_snapshot(sample: Callable[[str], Any]) -> dict[str, Any]:
    body = copy.deepcopy(sample(CALLBACK)["eventBody"])
    body["futureConversationKey"] = {"nested": [1, 2]}
    for participant in body["participants"]:
        participant["futureParticipantKey"] = "p"
        for callback in participant["callbacks"]:
            callback["futureCommunicationKey"] = True
    return body


def test_unknown_keys_kept_and_counted(sample: Callable[[str], Any]) -> None:
    result = merge(None, from_snapshot(drifted_snapshot(sample), 1.0))
    state = result.state
    participant = state.participants["5151853c-ca28-48da-bdcd-f15c46f0712e"]
    communication = next(iter(participant.communications.values()))

    assert result.surprises == 3
    assert result.events
    assert state.fields["futureConversationKey"][1] == {"nested": [1, 2]}
    assert participant.fields["futureParticipantKey"][1] == "p"
    assert communication.fields["futureCommunicationKey"][1] is True


def test_missing_optional_keys_kept(sample: Callable[[str], Any]) -> None:
    full = merge(None, from_snapshot(sample(CALLBACK)["eventBody"], 1.0)).state
    body = copy.deepcopy(sample(CALLBACK)["eventBody"])
    for participant in body["participants"]:
        participant.pop("attributes")
        participant.pop("name", None)
    del body["participants"][0]["callbacks"]

    result = merge(full, from_snapshot(body, 1.0))
    customer = result.state.participants["9a0231a0-8882-41bb-9b2c-d2f275736270"]

    assert result.surprises == 0
    assert not result.changed
    assert customer.fields["attributes"][1]["pcEnvironment"] == "mypurecloud.de"
    assert customer.fields["name"][1] == "VideoCall from Alex Sample"
    assert len(customer.communications) == 1


def test_snapshot_without_media_array(sample: Callable[[str], Any]) -> None:
    body = copy.deepcopy(sample(CALLBACK)["eventBody"])
    del body["participants"][0]["callbacks"]

    result = merge(None, from_snapshot(body, 1.0))

    assert result.changed
    assert summarize(result.state).state == "active"


def test_missing_key_does_not_erase_wrapup() -> None:
    story = transfer_story(agents=1, hold=False)
    state = merge_all(story.observations)
    body = copy.deepcopy(story.final_snapshot)
    del body["participants"][-1]["wrapup"]

    result = merge(state, from_snapshot(body, 1.0))

    assert project(result.state)["participants"]["p-agent-0"]["wrapupCode"] == "code-resolved"


def test_transient_field_follows_newer_snapshot() -> None:
    story = transfer_story(agents=1, hold=True, wrapup=False)
    snapshots = [o for o in story.observations if o.kind == "snapshot"]
    held = merge_all(snapshots[:-1])
    ended = merge_all(snapshots)

    call = held.participants["p-agent-0"].communications[("voice", "call-agent-0")]
    final = ended.participants["p-agent-0"].communications[("voice", "call-agent-0")]

    assert call.fields["held"][1] is True
    assert final.fields["held"][1] is False


def test_disconnected_never_goes_back() -> None:
    story = transfer_story(agents=1, hold=False, wrapup=False)
    state = merge_all(story.observations)
    first = story.observations[1]

    result = merge(state, first)

    assert not result.changed
    assert project(result.state)["state"] == "ended"


def test_merge_rejects_other_conversation() -> None:
    state = merge(None, from_snapshot({"id": "c1"}, 1.0)).state

    with pytest.raises(ValueError, match="'c2'"):
        merge(state, from_snapshot({"id": "c2"}, 1.0))


def test_story_converges_to_final_snapshot() -> None:
    story = transfer_story(agents=3)

    merged = merge_all(story.observations)
    truth = merge(None, from_snapshot(story.final_snapshot, 1.0)).state

    assert project(merged) == project(truth)


def test_join_states_equals_merging_everything() -> None:
    observations = transfer_story(agents=2).observations
    left = merge_all(observations[::2])
    right = merge_all(observations[1::2])
    everything = merge_all(observations)

    joined = join_states(left, right)

    assert same_content(joined, everything)
    assert same_content(join_states(right, left), joined)
    assert joined.revision == max(left.revision, right.revision) + 1


def test_join_states_with_itself_keeps_revision() -> None:
    state = merge_all(transfer_story().observations)

    joined = join_states(state, state)

    assert joined.revision == state.revision
    assert same_content(joined, state)


def test_join_states_contained_keeps_revision() -> None:
    observations = transfer_story().observations
    partial = merge_all(observations[:3])
    full = merge_all(observations)

    assert join_states(partial, full).revision == full.revision


def test_join_states_rejects_other_conversation() -> None:
    with pytest.raises(ValueError, match="'c1'"):
        join_states(ConversationState("c1"), ConversationState("c2"))


def test_analytics_sample_merges_ended(sample: Callable[[str], Any]) -> None:
    state = merge(None, from_analytics(sample("analytics-conversation-record.json"), 1.0)).state

    view = project(state)

    assert view["state"] == "ended"
    assert view["startTime"] == "2021-04-01T12:27:53.386Z"
    assert view["endTime"] == "2021-04-01T12:43:23.306Z"


def test_merge_rejects_missing_conversation_id() -> None:
    with pytest.raises(ValueError, match="no conversation id"):
        merge(None, from_snapshot({"participants": []}, 1.0))


def test_join_states_same_revision_different_content() -> None:
    observations = transfer_story().observations
    left = merge_all(observations[:2])
    right = merge_all(observations[2:4])
    assert left.revision == right.revision

    joined = join_states(left, right)

    assert joined.revision == left.revision + 1


def test_duplicate_skips_normalization(sample: Callable[[str], Any]) -> None:
    topic = "v2.users.AGENT_USER_ID.conversations"
    state = merge(None, from_frame(callback_frame(sample, topic, "corr-1"))).state
    duplicate = from_frame(callback_frame(sample, topic, "corr-2"))

    result = merge(state, duplicate)

    assert result.state is state
    assert result.surprises == 0
    assert duplicate._content is None


def test_fingerprint_depends_on_content_only(sample: Callable[[str], Any]) -> None:
    user_topic = "v2.users.AGENT_USER_ID.conversations"
    media_topic = "v2.users.AGENT_USER_ID.conversations.callbacks"
    first = from_frame(callback_frame(sample, user_topic, "corr-1"))
    again = from_frame(callback_frame(sample, media_topic, "corr-2"))
    body = copy.deepcopy(first.body)
    body["recordingState"] = "active"
    changed = from_snapshot(body, 1.0)

    assert first.fingerprint == again.fingerprint
    assert first.fingerprint != changed.fingerprint


def test_huge_integer_values_merge() -> None:
    small = from_snapshot({"id": "c1", "bigNumber": 1}, 1.0)
    huge = from_snapshot({"id": "c1", "bigNumber": 2**70}, 1.0)

    forward = merge_all([small, huge])
    backward = merge_all([huge, small])

    assert same_content(forward, backward)


def test_unchanged_participants_skip_normalization(sample: Callable[[str], Any]) -> None:
    """A snapshot that changes one participant merges as if every participant were merged."""
    first = sample(CALLBACK)["eventBody"]
    changed = copy.deepcopy(first)
    changed["participants"][4]["callbacks"][0]["held"] = True
    changed["participants"][4]["callbacks"][0]["startHoldTime"] = "2022-07-04T20:08:00.000Z"
    changed["unknownConversationKey"] = 1
    changed["participants"][0]["unknownParticipantKey"] = 1
    state = merge(None, from_snapshot(first, 1.0)).state
    observation = from_snapshot(changed, 2.0)

    skipping = merge(state, observation)
    full = merge(dataclasses.replace(state, known_participants={}), from_snapshot(changed, 2.0))

    assert len(observation.content_without(state.known_participants).participants) == 2
    assert len(skipping.state.known_participants) == 5
    assert same_content(skipping.state, full.state)
    assert skipping.state.revision == full.state.revision
    assert skipping.surprises == full.surprises
    assert skipping.events == full.events
