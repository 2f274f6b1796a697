"""Generated traffic: determinism, topics, delivery effects and agreement with the truth."""

from __future__ import annotations

import time
from collections import defaultdict
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from simulator.conversations import Behaviour
from simulator.traffic import Emission, TrafficConfig, generate

START = 1_767_225_600.0
MEDIA_ARRAYS = {"calls", "callbacks", "chats", "messages"}


def communication(participant: dict[str, Any]) -> dict[str, Any]:
    for key in MEDIA_ARRAYS:
        if key in participant:
            return dict(participant[key][0])
    raise AssertionError(f"Participant {participant['id']} has no media array.")


def snapshot_emissions(emissions: list[Emission]) -> list[Emission]:
    return [e for e in emissions if not e.topic.startswith("v2.detail.")]


def test_generate_is_deterministic() -> None:
    config = TrafficConfig(conversations=30, seed=5, duplicate_rate=0.3, reorder_rate=0.3)

    first = generate(config)
    second = generate(config)

    assert first.emissions == second.emissions
    assert first.truth.conversation_ids() == second.truth.conversation_ids()


def test_generate_differs_by_seed() -> None:
    first = generate(TrafficConfig(conversations=10, seed=1))
    second = generate(TrafficConfig(conversations=10, seed=2))

    assert first.truth.conversation_ids() != second.truth.conversation_ids()


def test_delivery_rates_keep_conversations() -> None:
    plain = generate(TrafficConfig(conversations=20, seed=3))
    noisy = generate(TrafficConfig(conversations=20, seed=3, duplicate_rate=0.5, reorder_rate=0.5))

    assert plain.truth.conversation_ids() == noisy.truth.conversation_ids()
    for conversation_id in plain.truth.conversation_ids():
        assert plain.truth.final_snapshot(conversation_id) == noisy.truth.final_snapshot(
            conversation_id
        )


def test_emissions_sorted_and_after_start() -> None:
    emissions = generate(TrafficConfig(conversations=40, reorder_rate=0.3)).emissions
    times = [emission.at for emission in emissions]

    assert times == sorted(times)
    assert times[0] >= START


def test_conversation_count_and_start_spread() -> None:
    truth = generate(TrafficConfig(conversations=50, duration=300.0)).truth
    starts = [truth.start_time(conversation_id) for conversation_id in truth.conversation_ids()]

    assert len(starts) == 50
    assert min(starts) >= START
    assert max(starts) <= START + 300.0


def test_every_conversation_on_a_queue_topic() -> None:
    scenario = generate(TrafficConfig(conversations=60, already_active=3))
    on_queue_topic = {
        str(e.body["id"])
        for e in scenario.emissions
        if e.topic.startswith("v2.routing.queues.") and e.topic.endswith(".conversations")
    }

    assert on_queue_topic == set(scenario.truth.conversation_ids())


def test_topics_are_known_names() -> None:
    scenario = generate(TrafficConfig(conversations=30))
    queue_ids = {queue["id"] for queue in scenario.truth.queues()}
    user_ids = {user["id"] for user in scenario.truth.users()}
    media = {"calls", "callbacks", "chats", "messages"}

    for emission in scenario.emissions:
        parts = emission.topic.split(".")
        if parts[1] == "routing":
            assert parts[3] in queue_ids
            assert parts[4] == "conversations"
            assert parts[5:] == [] or parts[5] in media
        elif parts[1] == "users":
            assert parts[2] in user_ids
            assert parts[3] == "conversations"
            assert parts[4:] == [] or parts[4] in media
        else:
            assert emission.topic.startswith("v2.detail.events.conversation.")
            assert parts[4] == emission.body["conversationId"]


def test_media_topic_matches_participant_arrays() -> None:
    scenario = generate(TrafficConfig(conversations=40))

    for emission in snapshot_emissions(scenario.emissions):
        media = emission.topic.rsplit(".", 1)[1]
        if media == "conversations":
            continue
        for participant in emission.body["participants"]:
            assert media in participant


def test_queue_and_user_topics_carry_same_snapshot() -> None:
    scenario = generate(TrafficConfig(conversations=20))
    bodies_by_change: dict[tuple[str, str], set[str]] = defaultdict(set)
    for emission in snapshot_emissions(scenario.emissions):
        participants = emission.body["participants"]
        key = (str(emission.body["id"]), repr(participants))
        bodies_by_change[key].add(emission.topic)

    # Every snapshot that reached an agent also reached a queue topic.
    for topics in bodies_by_change.values():
        assert any(topic.startswith("v2.routing.queues.") for topic in topics)


def test_final_snapshot_has_every_leg_ended() -> None:
    truth = generate(TrafficConfig(conversations=60)).truth

    for conversation_id in truth.conversation_ids():
        snapshot = truth.final_snapshot(conversation_id)
        for participant in snapshot["participants"]:
            assert "endTime" in participant, conversation_id
            for key in ("calls", "callbacks", "chats", "messages"):
                for communication in participant.get(key, []):
                    assert communication["state"] == "disconnected"
                    assert "disconnectType" in communication


def test_last_emitted_snapshot_is_final_snapshot() -> None:
    scenario = generate(TrafficConfig(conversations=40))
    last: dict[str, dict[str, Any]] = {}
    for emission in snapshot_emissions(scenario.emissions):
        last[str(emission.body["id"])] = emission.body

    for conversation_id in scenario.truth.conversation_ids():
        assert last[conversation_id] == scenario.truth.final_snapshot(conversation_id)


def test_snapshot_at_equals_emitted_body() -> None:
    scenario = generate(TrafficConfig(conversations=15))
    truth = scenario.truth

    for emission in snapshot_emissions(scenario.emissions):
        conversation_id = str(emission.body["id"])
        # A frame leaves Genesys at most 0.25 s after the change it shows.
        recent_changes = [
            t
            for t in truth.conversation(conversation_id).change_times()
            if emission.at - 0.25 <= t <= emission.at
        ]
        snapshots = [truth.snapshot_at(conversation_id, t) for t in recent_changes]
        assert emission.body in snapshots


def test_snapshot_at_before_start_is_none() -> None:
    truth = generate(TrafficConfig(conversations=5)).truth
    conversation_id = truth.conversation_ids()[0]
    start = truth.start_time(conversation_id)

    assert truth.snapshot_at(conversation_id, start - 1) is None
    assert truth.rest_conversation(conversation_id, start - 1) is None
    assert truth.state_at(conversation_id, start - 1) is None
    assert truth.state_at(conversation_id, start) == "active"
    assert truth.state_at(conversation_id, truth.end_time(conversation_id)) == "ended"


def test_unknown_conversation_raises_key_error() -> None:
    truth = generate(TrafficConfig(conversations=1)).truth

    with pytest.raises(KeyError, match="not in this scenario"):
        truth.final_snapshot("no-such-conversation")
    assert truth.rest_conversation("no-such-conversation", START) is None


def test_duplicates_differ_only_in_correlation_id() -> None:
    scenario = generate(TrafficConfig(conversations=30, duplicate_rate=0.5))
    copies: dict[tuple[str, int], list[Emission]] = defaultdict(list)
    for emission in scenario.emissions:
        copies[(emission.topic, id(emission.body))].append(emission)

    duplicated = [group for group in copies.values() if len(group) > 1]
    assert duplicated
    for group in duplicated:
        assert len(group) <= 3
        assert len({emission.correlation_id for emission in group}) == len(group)


def test_no_duplicates_at_rate_zero() -> None:
    scenario = generate(TrafficConfig(conversations=30))
    keys = [(emission.topic, id(emission.body)) for emission in scenario.emissions]
    correlation_ids = [emission.correlation_id for emission in scenario.emissions]

    assert len(keys) == len(set(keys))
    assert len(correlation_ids) == len(set(correlation_ids))


def test_reordering_delays_some_frames() -> None:
    def out_of_order(config: TrafficConfig) -> int:
        count = 0
        latest: dict[str, int] = {}
        for emission in generate(config).emissions:
            if not emission.topic.startswith("v2.detail."):
                continue
            conversation_id = emission.conversation_id
            event_time = int(emission.body["eventTime"])
            if event_time < latest.get(conversation_id, 0) - 1000:
                count += 1
            latest[conversation_id] = max(latest.get(conversation_id, 0), event_time)
        return count

    assert out_of_order(TrafficConfig(conversations=40, seed=9)) == 0
    assert out_of_order(TrafficConfig(conversations=40, seed=9, reorder_rate=0.5)) > 0


def test_detail_events_can_be_disabled() -> None:
    scenario = generate(TrafficConfig(conversations=10, detail_events=False))

    assert not [e for e in scenario.emissions if e.topic.startswith("v2.detail.")]


def test_detail_event_kinds() -> None:
    scenario = generate(TrafficConfig(conversations=80))
    kinds = {
        e.topic.split(".", 5)[5] for e in scenario.emissions if e.topic.startswith("v2.detail.")
    }

    assert {"customer.start", "customer.end", "acd.start", "acd.end"} <= kinds
    assert {"user.start", "user.end", "acw", "wrapup", "flow.start", "flow.end"} <= kinds


def test_transfer_adds_agent_after_transfer_end() -> None:
    behaviour = Behaviour(transfer=1.0, abandon=0.0, missed_alert=0.0)
    truth = generate(TrafficConfig(conversations=10, behaviour=behaviour)).truth

    for conversation_id in truth.conversation_ids():
        participants = truth.final_snapshot(conversation_id)["participants"]
        agents = [p for p in participants if p["purpose"] == "agent"]
        assert len(agents) == 2
        assert communication(agents[0])["disconnectType"] == "transfer"
        assert "wrapup" in agents[0]
        assert "wrapup" in agents[1]


def test_transfer_is_not_an_end() -> None:
    behaviour = Behaviour(transfer=1.0, abandon=0.0, missed_alert=0.0)
    truth = generate(TrafficConfig(conversations=5, behaviour=behaviour)).truth
    conversation_id = truth.conversation_ids()[0]
    legs = truth.conversation(conversation_id).legs
    transferred = next(leg for leg in legs if leg.disconnect_type == "transfer" and leg.user_id)
    assert transferred.end is not None

    snapshot = truth.snapshot_at(conversation_id, transferred.end + 0.5)
    assert snapshot is not None
    agents = [p for p in snapshot["participants"] if p["purpose"] == "agent"]

    assert truth.state_at(conversation_id, transferred.end + 0.5) == "active"
    assert communication(agents[0])["disconnectType"] == "transfer"
    assert "endTime" not in snapshot["participants"][0]


def test_abandon_has_no_connected_agent() -> None:
    behaviour = Behaviour(abandon=1.0, ivr=0.0)
    truth = generate(TrafficConfig(conversations=10, behaviour=behaviour)).truth

    for conversation_id in truth.conversation_ids():
        participants = truth.final_snapshot(conversation_id)["participants"]
        assert [p["purpose"] for p in participants] == ["customer", "acd"]
        assert communication(participants[0])["disconnectType"] == "client"
        assert communication(participants[1])["disconnectType"] == "peer"


def test_missed_alert_then_another_agent() -> None:
    behaviour = Behaviour(missed_alert=1.0, abandon=0.0, transfer=0.0)
    truth = generate(TrafficConfig(conversations=10, behaviour=behaviour)).truth

    for conversation_id in truth.conversation_ids():
        participants = truth.final_snapshot(conversation_id)["participants"]
        agents = [p for p in participants if p["purpose"] == "agent"]
        assert len(agents) == 3
        for missed in agents[:2]:
            assert "connectedTime" not in missed
            assert communication(missed)["disconnectType"] in {"client", "system"}
        assert "connectedTime" in agents[2]
        assert len({agent["userId"] for agent in agents}) == 3


def test_holds_appear_in_voice_snapshots() -> None:
    behaviour = Behaviour(hold=1.0)
    scenario = generate(
        TrafficConfig(conversations=10, media_mix=(("voice", 1.0),), behaviour=behaviour)
    )

    held = [
        e
        for e in snapshot_emissions(scenario.emissions)
        if any(communication(p).get("held") for p in e.body["participants"])
    ]
    assert held


def test_already_active_stays_silent() -> None:
    scenario = generate(TrafficConfig(conversations=0, already_active=4))
    truth = scenario.truth

    assert len(truth.conversation_ids()) == 4
    assert sorted(truth.active_at(START)) == sorted(truth.conversation_ids())
    assert scenario.emissions
    assert min(emission.at for emission in scenario.emissions) >= START + 180.0
    for conversation_id in truth.conversation_ids():
        assert truth.start_time(conversation_id) < START
        assert truth.rest_conversation(conversation_id, START) is not None


def test_already_active_keeps_other_conversations() -> None:
    plain = generate(TrafficConfig(conversations=10, seed=4))
    with_active = generate(TrafficConfig(conversations=10, seed=4, already_active=2))

    assert set(plain.truth.conversation_ids()) < set(with_active.truth.conversation_ids())


def test_analytics_query_interval() -> None:
    truth = generate(TrafficConfig(conversations=40, duration=600.0)).truth
    at = START + 10_000.0
    ids = truth.conversation_ids()
    middle = truth.start_time(ids[20])

    records = truth.analytics_query(middle, middle + 1.0, at)
    found = {record["conversationId"] for record in records}

    for conversation_id in ids:
        overlaps = truth.start_time(conversation_id) < middle + 1.0 and (
            truth.end_time(conversation_id) >= middle
        )
        assert (conversation_id in found) == overlaps, conversation_id


def test_analytics_query_as_known_at() -> None:
    truth = generate(TrafficConfig(conversations=20)).truth
    conversation_id = truth.conversation_ids()[0]
    start = truth.start_time(conversation_id)

    ongoing = truth.analytics_query(start, start + 1.0, at=start + 1.0)
    record = next(r for r in ongoing if r["conversationId"] == conversation_id)
    nothing = truth.analytics_query(start - 100.0, start, at=start - 50.0)

    assert "conversationEnd" not in record
    assert nothing == []


def test_queue_topics_cover_queues() -> None:
    truth = generate(TrafficConfig(conversations=1, queues=7, agents=3)).truth

    assert len(truth.queues()) == 7
    assert len(truth.users()) == 3
    assert truth.queue_topics() == [
        f"v2.routing.queues.{queue['id']}.conversations" for queue in truth.queues()
    ]
    assert all(user["state"] == "active" for user in truth.users())


def test_emission_frame_envelope() -> None:
    emission = generate(TrafficConfig(conversations=1)).emissions[0]
    frame = emission.frame()

    assert frame["topicName"] == emission.topic
    assert frame["version"] == "2"
    assert frame["eventBody"] is emission.body
    assert frame["metadata"] == {"CorrelationId": emission.correlation_id}


def test_emission_conversation_id() -> None:
    scenario = generate(TrafficConfig(conversations=3))
    ids = set(scenario.truth.conversation_ids())

    for emission in scenario.emissions:
        assert emission.conversation_id in ids
        assert emission.conversation_id in emission.topic or "conversations" in emission.topic


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("duplicate_rate", 1.5),
        ("reorder_rate", -0.1),
        ("conversations", -1),
        ("duration", -1.0),
        ("oversized", -1),
        ("media_mix", (("fax", 1.0),)),
        ("media_mix", (("voice", 0.0),)),
    ],
)
def test_config_rejects_invalid(field: str, value: Any) -> None:
    with pytest.raises(ValueError, match=field.split("_")[0]):
        TrafficConfig(**{field: value})


def test_generate_300_is_fast() -> None:
    config = TrafficConfig(conversations=300, duplicate_rate=0.2, reorder_rate=0.1)

    started = time.perf_counter()
    scenario = generate(config)
    elapsed = time.perf_counter() - started

    assert len(scenario.truth.conversation_ids()) == 300
    # About 0.25 s on a 2-core CI machine; the bound leaves room for a slow one.
    assert elapsed < 2.0


def test_oversized_conversation_size() -> None:
    scenario = generate(TrafficConfig(conversations=0, oversized=1))
    conversation_id = scenario.truth.conversation_ids()[0]
    snapshot = scenario.truth.final_snapshot(conversation_id)

    assert len(snapshot["participants"]) == 40
    assert len(orjson.dumps(snapshot)) > 450 * 1024


def test_media_mix_accepts_mapping() -> None:
    scenario = generate(TrafficConfig(conversations=10, media_mix={"chat": 1.0}))

    for conversation_id in scenario.truth.conversation_ids():
        assert "chats" in scenario.truth.final_snapshot(conversation_id)["participants"][0]


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(min_value=0, max_value=2**32), agents=st.integers(1, 4))
def test_timelines_are_consistent(seed: int, agents: int) -> None:
    behaviour = Behaviour(transfer=0.5, missed_alert=0.5, hold=0.5)
    config = TrafficConfig(
        conversations=8, seed=seed, queues=2, agents=agents, already_active=1, behaviour=behaviour
    )
    truth = generate(config).truth

    for conversation_id in truth.conversation_ids():
        conversation = truth.conversation(conversation_id)
        for leg in conversation.legs:
            assert leg.end is not None
            assert leg.start <= leg.end
            if leg.connected is not None:
                assert leg.start <= leg.connected <= leg.end
                for hold_start, hold_end in leg.holds:
                    assert leg.connected < hold_start < hold_end < leg.end
            if leg.acw_end is not None:
                assert leg.acw_start == leg.end
                assert leg.end < leg.acw_end
        assert truth.state_at(conversation_id, conversation.end - 0.001) == "active"
        assert truth.state_at(conversation_id, conversation.end) == "ended"
