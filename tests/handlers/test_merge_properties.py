"""Property tests: the merged state depends only on the set of observations."""

import dataclasses
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from handlers.merge import join_states, merge, project
from handlers.normalize import Observation, from_detail, from_snapshot
from handlers.records import decode_state, encode_state
from handlers.state import ConversationState, same_content
from tests.handlers.stories import iso, millis, transfer_story

PROPERTY_SETTINGS = settings(max_examples=150, deadline=None)


def merge_all(observations: list[Observation], cache: bool = True) -> ConversationState:
    """Merge in order. With ``cache=False`` every merge runs the join, without fingerprints."""
    state = None
    for observation in observations:
        if state is not None and not cache:
            state = dataclasses.replace(state, seen=set(), known_participants={})
        state = merge(state, observation).state
    assert state is not None
    return state


@st.composite
def stories(draw: st.DrawFn) -> list[Observation]:
    story = transfer_story(
        agents=draw(st.integers(1, 3)), hold=draw(st.booleans()), wrapup=draw(st.booleans())
    )
    return story.observations


@st.composite
def arrivals(draw: st.DrawFn, observations: list[Observation]) -> list[Observation]:
    """Draw an arrival order: a permutation of all observations, with some duplicated."""
    order = draw(st.permutations(observations))
    duplicates = draw(st.lists(st.sampled_from(observations), max_size=len(observations)))
    arrived = list(order)
    for duplicate in duplicates:
        arrived.insert(draw(st.integers(0, len(arrived))), duplicate)
    return arrived


@PROPERTY_SETTINGS
@given(st.data())
def test_story_any_order_same_state(data: st.DataObject) -> None:
    observations = data.draw(stories())
    reference = merge_all(observations)

    arrived = merge_all(data.draw(arrivals(observations)), cache=data.draw(st.booleans()))

    assert same_content(arrived, reference)
    assert project(arrived) == project(reference)


@PROPERTY_SETTINGS
@given(st.data())
def test_story_split_and_joined(data: st.DataObject) -> None:
    observations = data.draw(stories())
    sides = data.draw(
        st.lists(st.sampled_from("lrb"), min_size=len(observations), max_size=len(observations))
    )
    left = [o for o, side in zip(observations, sides, strict=True) if side in "lb"]
    right = [o for o, side in zip(observations, sides, strict=True) if side in "rb"]
    if not left or not right:
        return

    joined = join_states(merge_all(left), merge_all(right))

    assert same_content(joined, merge_all(observations))


# Random observations with conflicting values: the tie-breaks must not depend on order.

TIMES = [iso(offset) for offset in (0, 1000, 2000)]
STATES = ["alerting", "connected", "disconnected", "terminated", "parked"]


@st.composite
def communications(draw: st.DrawFn, communication_id: str) -> dict[str, Any]:
    communication: dict[str, Any] = {"id": communication_id}
    optional = {
        "state": st.sampled_from(STATES),
        "connectedTime": st.sampled_from(TIMES),
        "disconnectedTime": st.sampled_from(TIMES),
        "startHoldTime": st.sampled_from(TIMES),
        "held": st.booleans(),
        "disconnectType": st.sampled_from(["client", "peer", "transfer"]),
        "futureKey": st.one_of(st.integers(0, 2), st.text(max_size=2), st.booleans()),
    }
    for key, strategy in optional.items():
        if draw(st.booleans()):
            communication[key] = draw(strategy)
    return communication


@st.composite
def snapshots(draw: st.DrawFn) -> Observation:
    participants = []
    for participant_id in draw(st.lists(st.sampled_from(["p1", "p2"]), unique=True)):
        participant: dict[str, Any] = {"id": participant_id}
        optional = {
            "purpose": st.sampled_from(["customer", "agent"]),
            "name": st.sampled_from(["a", "b"]),
            "endTime": st.sampled_from(TIMES),
            "wrapup": st.fixed_dictionaries({"code": st.sampled_from(["w1", "w2"])}),
            "attributes": st.dictionaries(st.sampled_from("xy"), st.integers(0, 1)),
        }
        for key, strategy in optional.items():
            if draw(st.booleans()):
                participant[key] = draw(strategy)
        ids = draw(st.lists(st.sampled_from(["k1", "k2"]), unique=True))
        participant["calls"] = [draw(communications(i)) for i in ids]
        participants.append(participant)
    body = {"id": "c1", "participants": participants}
    if draw(st.booleans()):
        body["recordingState"] = draw(st.sampled_from(["none", "active"]))
    return from_snapshot(body, 1.0)


@st.composite
def details(draw: st.DrawFn) -> Observation:
    kind = draw(
        st.sampled_from(["customer.start", "customer.end", "user.start", "user.end", "wrapup"])
    )
    body: dict[str, Any] = {
        "eventTime": millis(draw(st.sampled_from([0, 1000, 2000]))),
        "participantId": draw(st.sampled_from(["p1", "p2"])),
        "sessionId": draw(st.sampled_from(["k1", "k2"])),
        "mediaType": "VOICE",
    }
    if kind == "wrapup":
        body["wrapupCode"] = draw(st.sampled_from(["w1", "w2"]))
    if draw(st.booleans()):
        body["disconnectType"] = draw(st.sampled_from(["client", "peer"]))
    return from_detail(body, kind, 1.0, conversation_id="c1")


observation_sets = st.lists(st.one_of(snapshots(), details()), min_size=1, max_size=6)


@PROPERTY_SETTINGS
@given(st.data())
def test_conflicting_observations_any_order(data: st.DataObject) -> None:
    observations = data.draw(observation_sets)
    reference = merge_all(observations)

    arrived = merge_all(data.draw(arrivals(observations)), cache=data.draw(st.booleans()))

    assert same_content(arrived, reference)
    assert project(arrived) == project(reference)


@PROPERTY_SETTINGS
@given(observation_sets)
def test_merging_again_changes_nothing(observations: list[Observation]) -> None:
    state = dataclasses.replace(merge_all(observations), seen=set(), known_participants={})

    results = [merge(state, observation) for observation in observations]

    assert not any(result.changed for result in results)
    assert all(result.state is state for result in results)


@PROPERTY_SETTINGS
@given(observation_sets, observation_sets)
def test_join_states_commutes(left: list[Observation], right: list[Observation]) -> None:
    a, b = merge_all(left), merge_all(right)

    joined = join_states(a, b)

    assert same_content(joined, join_states(b, a))
    assert same_content(joined, merge_all(left + right))
    assert joined.revision == join_states(b, a).revision


@PROPERTY_SETTINGS
@given(observation_sets)
def test_encoded_state_decodes_exactly(observations: list[Observation]) -> None:
    state = merge_all(observations)

    decoded = decode_state(encode_state(state, updated_at=1.0, ttl_seconds=60))

    assert decoded == state
