"""The merge against the simulator's ground truth: every shape converges to the same view."""

import pytest

from handlers.frames import DetailFrame, SnapshotFrame, parse_document
from handlers.merge import merge, project
from handlers.normalize import from_analytics, from_frame, from_rest, from_snapshot
from handlers.state import ConversationState
from handlers.times import time_from_seconds
from simulator.traffic import Scenario, TrafficConfig, generate


@pytest.fixture(scope="module")
def scenario() -> Scenario:
    config = TrafficConfig(conversations=30, seed=7, duplicate_rate=0.3, reorder_rate=0.3)
    return generate(config)


def truth_view(scenario: Scenario, conversation_id: str) -> dict[str, object]:
    snapshot = scenario.truth.final_snapshot(conversation_id)
    return project(merge(None, from_snapshot(snapshot, 0.0)).state)


def test_stream_converges_to_truth(scenario: Scenario) -> None:
    states: dict[str, ConversationState] = {}
    for emission in scenario.emissions:
        frame = parse_document(emission.frame(), emission.at)
        assert isinstance(frame, SnapshotFrame | DetailFrame)
        observation = from_frame(frame)
        current = states.get(observation.conversation_id)
        states[observation.conversation_id] = merge(current, observation).state

    for conversation_id in scenario.truth.conversation_ids():
        view = project(states[conversation_id])
        end = time_from_seconds(scenario.truth.end_time(conversation_id))

        assert view == truth_view(scenario, conversation_id), conversation_id
        assert view["state"] == "ended", conversation_id
        assert view["endTime"] == end, conversation_id


def test_rest_and_analytics_match_truth(scenario: Scenario) -> None:
    for conversation_id in scenario.truth.conversation_ids():
        start = scenario.truth.start_time(conversation_id)
        end = scenario.truth.end_time(conversation_id)
        rest = scenario.truth.rest_conversation(conversation_id, end)
        assert rest is not None
        records = scenario.truth.analytics_query(start, end + 1, end)
        record = next(r for r in records if r["conversationId"] == conversation_id)

        from_rest_view = project(merge(None, from_rest(rest, 0.0)).state)
        from_analytics_view = project(merge(None, from_analytics(record, 0.0)).state)

        assert from_rest_view == truth_view(scenario, conversation_id), conversation_id
        assert from_analytics_view == truth_view(scenario, conversation_id), conversation_id


def test_midway_rest_matches_truth(scenario: Scenario) -> None:
    """At every change of a conversation, the REST shape agrees with the snapshot."""
    for conversation_id in scenario.truth.conversation_ids()[:10]:
        conversation = scenario.truth.conversation(conversation_id)
        for change in conversation.change_times():
            at = change + 0.0005
            snapshot = scenario.truth.snapshot_at(conversation_id, at)
            rest = scenario.truth.rest_conversation(conversation_id, at)
            assert snapshot is not None
            assert rest is not None

            expected = project(merge(None, from_snapshot(snapshot, 0.0)).state)

            assert project(merge(None, from_rest(rest, 0.0)).state) == expected
