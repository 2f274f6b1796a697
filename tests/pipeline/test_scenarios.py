"""Event and merge faults through the whole service: exact frames from the simulator to the store.

Each test subscribes the service to a few topics, publishes hand-made frames
with ``Simulator.publish`` and reads what reached the local store: the stored
item, the forwarded messages and the metrics.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from genesys_stream.app import Stores
from genesys_stream.clock import FakeClock
from handlers.lifecycle import (
    CONVERSATION_ENDED,
    CONVERSATION_STARTED,
    PARTICIPANT_JOINED,
    PARTICIPANT_LEFT,
)
from handlers.merge import merge
from handlers.normalize import from_snapshot
from handlers.records import decode_state, encode_state, validate_message
from handlers.state import participant_active, project, queue_history, same_content
from simulator import Simulator
from stores.base import StateRecord
from stores.dynamodb import DynamoStateStore
from stores.local import LocalEventQueue, read_events
from tests.pipeline.harness import Pipeline, local_stores, running_pipeline

SAMPLES = Path(__file__).parents[1] / "samples"
CALLBACK = "conversation-user-topic-callback-connected.json"
SAMPLE_ID = "ffff-ffff-ffff-ffff"
USER_TOPIC = "v2.users.AGENT_USER_ID.conversations"
MEDIA_TOPIC = "v2.users.AGENT_USER_ID.conversations.callbacks"
QUEUE_TOPIC = "v2.routing.queues.0e185c02-aca1-4a72-82ea-2e78684e2c89.conversations"
CONNECTED_AGENT = "5151853c-ca28-48da-bdcd-f15c46f0712e"

CONVERSATION_ID = "c0ffee00-0000-4000-8000-000000000014"
# 2026-03-02T09:00:00Z in epoch milliseconds.
BASE_MS = 1_772_442_000_000


# Fixtures and helpers


def sample_body() -> dict[str, Any]:
    body: dict[str, Any] = orjson.loads((SAMPLES / CALLBACK).read_bytes())["eventBody"]
    return body


def iso(offset_ms: int) -> str:
    seconds, millis = divmod(BASE_MS + offset_ms, 1000)
    moment = datetime.fromtimestamp(seconds, UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{millis:03d}Z"


def detail_topic(kind: str) -> str:
    return f"v2.detail.events.conversation.{CONVERSATION_ID}.{kind}"


def detail(at: int, participant: str, session: str, **extra: Any) -> dict[str, Any]:
    """Return the body of one detail event ``at`` milliseconds after ``BASE_MS``."""
    return {
        "eventTime": BASE_MS + at,
        "conversationId": CONVERSATION_ID,
        "participantId": participant,
        "sessionId": session,
        "mediaType": "VOICE",
        **extra,
    }


def publish(pipeline: Pipeline, topic: str, body: dict[str, Any], correlation_id: str) -> None:
    """Publish one frame and wait until the service merged and stored it."""
    assert pipeline.simulator.publish(topic, body, correlation_id) == 1
    pipeline.step(1.0)


def stored(stores: Stores, conversation_id: str) -> StateRecord:
    record = stores.states.load(conversation_id)
    assert record is not None, f"conversation {conversation_id} is not stored"
    return record


def messages(directory: Path) -> list[dict[str, Any]]:
    """Return the bodies of every message forwarded to the local queue, oldest first."""
    path = directory / "events.jsonl"
    if not path.exists():
        return []
    return [orjson.loads(event["body"]) for event in read_events(path)]


def types(bodies: Sequence[dict[str, Any]]) -> list[str]:
    return [body["type"] for body in bodies]


# Duplicates


def test_duplicates_change_once(simulator: Simulator, clock: FakeClock, tmp_path: Path) -> None:
    """One snapshot three times, then on the queue and media topics: one change."""
    stores = local_stores(tmp_path, clock)
    frames = [
        (USER_TOPIC, "corr-1"),
        (USER_TOPIC, "corr-2"),
        (USER_TOPIC, "corr-3"),
        (QUEUE_TOPIC, "corr-4"),
        (MEDIA_TOPIC, "corr-5"),
    ]
    revisions = []

    with running_pipeline(
        simulator, clock, stores, (USER_TOPIC, MEDIA_TOPIC, QUEUE_TOPIC)
    ) as pipeline:
        for topic, correlation_id in frames:
            publish(pipeline, topic, sample_body(), correlation_id)
            revisions.append(stored(stores, SAMPLE_ID).revision)
        totals = pipeline.totals()
    forwarded = messages(tmp_path)

    assert totals["EventsIn"] == len(frames)
    assert totals["EventsMerged"] == 1
    assert revisions == [1, 1, 1, 1, 1]
    assert totals["EventsAccepted"] == len(forwarded)
    assert types(forwarded).count(CONVERSATION_STARTED) == 1
    assert len(pairs(forwarded)) == len(set(pairs(forwarded)))
    assert {body["revision"] for body in forwarded} == {1}
    assert {body["correlationId"] for body in forwarded} == {"corr-1"}


def pairs(bodies: Sequence[dict[str, Any]]) -> list[tuple[str, str | None]]:
    """Return each message's event type and participant id (None for conversation events)."""
    return [(body["type"], body.get("participantId")) for body in bodies]


# Out of order


def in_order_snapshots() -> list[dict[str, Any]]:
    """Three snapshots of one call: queued, connected to an agent, ended."""
    customer = {
        "id": "p-customer",
        "purpose": "customer",
        "calls": [
            {"id": "s-customer", "state": "connected", "connectedTime": iso(0), "held": False}
        ],
    }
    acd = {
        "id": "p-acd",
        "purpose": "acd",
        "queueId": "Q1",
        "calls": [{"id": "s-acd", "state": "connected", "connectedTime": iso(50), "held": False}],
    }
    queued = {"id": CONVERSATION_ID, "participants": [customer, acd]}

    answered = copy.deepcopy(queued)
    answered["participants"][1]["endTime"] = iso(900)
    answered["participants"][1]["calls"][0].update(
        state="disconnected", disconnectedTime=iso(900), disconnectType="transfer"
    )
    answered["participants"].append(
        {
            "id": "p-agent",
            "purpose": "agent",
            "userId": "A",
            "queueId": "Q1",
            "connectedTime": iso(900),
            "calls": [
                {"id": "s-agent", "state": "connected", "connectedTime": iso(900), "held": True}
            ],
        }
    )

    ended = copy.deepcopy(answered)
    for leg, index in ((ended["participants"][0], 0), (ended["participants"][2], 2)):
        leg["endTime"] = iso(5000 + index)
        leg["calls"][0].update(
            state="disconnected",
            disconnectedTime=iso(5000 + index),
            disconnectType="peer",
            held=False,
        )
    return [queued, answered, ended]


def out_of_order_frames() -> list[tuple[str, dict[str, Any]]]:
    user_start = detail(6000, "p-b", "s-b", userId="B", queueId="Q1")
    user_end = detail(6175, "p-b", "s-b", userId="B", disconnectType="client")
    frames = [(USER_TOPIC, body) for body in in_order_snapshots()]
    frames += [(detail_topic("user.start"), user_start), (detail_topic("user.end"), user_end)]
    return frames


def deliver(
    simulator: Simulator,
    clock: FakeClock,
    directory: Path,
    frames: Sequence[tuple[str, dict[str, Any]]],
) -> StateRecord:
    """Run a service on its own store, publish ``frames`` in order, return the stored state."""
    stores = local_stores(directory, clock)
    topics = tuple(sorted({topic for topic, _ in frames}))
    with running_pipeline(simulator, clock, stores, topics) as pipeline:
        for index, (topic, body) in enumerate(frames):
            publish(pipeline, topic, body, f"corr-{index}")
    return stored(stores, CONVERSATION_ID)


def test_out_of_order_equals_in_order(
    simulator: Simulator, clock: FakeClock, tmp_path: Path
) -> None:
    """user.end before user.start (175 ms earlier), snapshots reversed: the in-order state."""
    frames = out_of_order_frames()
    snapshots, (start, end) = frames[:3], frames[3:]

    in_order = deliver(simulator, clock, tmp_path / "in-order", frames)
    reversed_order = deliver(
        simulator, clock, tmp_path / "reversed", [end, start, *snapshots[::-1]]
    )
    state = decode_state(reversed_order)
    view = project(state)

    assert same_content(decode_state(in_order), state)
    assert view["state"] == "ended"
    assert view["participants"]["p-b"]["communications"]["voice:s-b"] == {
        "state": "disconnected",
        "connectedTime": None,
        "disconnectedTime": iso(6175),
        "disconnectType": "client",
    }
    assert view["participants"]["p-agent"]["communications"]["voice:s-agent"]["state"] == (
        "disconnected"
    )


# Transfer


def transfer_frames() -> list[tuple[str, dict[str, Any]]]:
    """customer.start, Q1, agent A, A transfers, Q2, agent B, customer.end."""
    return [
        ("customer.start", detail(0, "p-customer", "s-customer")),
        ("acd.start", detail(100, "p-acd-1", "s-acd-1", queueId="Q1")),
        ("user.start", detail(200, "p-a", "s-a", userId="A", queueId="Q1")),
        ("user.end", detail(5000, "p-a", "s-a", userId="A", disconnectType="transfer")),
        ("acd.start", detail(5100, "p-acd-2", "s-acd-2", queueId="Q2")),
        ("user.start", detail(5200, "p-b", "s-b", userId="B", queueId="Q2")),
        ("customer.end", detail(9000, "p-customer", "s-customer", disconnectType="peer")),
    ]


def test_transfer_is_not_an_end(simulator: Simulator, clock: FakeClock, tmp_path: Path) -> None:
    stores = local_stores(tmp_path, clock)
    frames = transfer_frames()
    topics = tuple(sorted({detail_topic(kind) for kind, _ in frames}))
    states = []
    ended_seen = []

    with running_pipeline(simulator, clock, stores, topics) as pipeline:
        for index, (kind, body) in enumerate(frames):
            publish(pipeline, detail_topic(kind), body, f"corr-{index}")
            states.append(project(decode_state(stored(stores, CONVERSATION_ID)))["state"])
            ended_seen.append(CONVERSATION_ENDED in types(messages(tmp_path)))
            if kind == "user.start" and body["userId"] == "B":
                before_end = decode_state(stored(stores, CONVERSATION_ID))
    final = decode_state(stored(stores, CONVERSATION_ID))
    forwarded = messages(tmp_path)

    assert states == ["active"] * 6 + ["ended"]
    assert ended_seen == [False] * 6 + [True]
    assert not participant_active(before_end.participants["p-a"])
    assert participant_active(before_end.participants["p-b"])
    assert queue_history(final) == ["Q1", "Q2"]
    assert types(forwarded).count(CONVERSATION_ENDED) == 1
    assert types(forwarded)[-1] in {CONVERSATION_ENDED, PARTICIPANT_LEFT}
    assert (PARTICIPANT_LEFT, "p-a") in pairs(forwarded)
    assert project(final)["endTime"] == iso(9000)


# Schema drift


def drifted_body() -> dict[str, Any]:
    """The sample with an unknown key on the conversation, each participant and callback."""
    body = sample_body()
    body["futureConversationKey"] = {"nested": [1, 2]}
    for leg in body["participants"]:
        leg["futureParticipantKey"] = "p"
        for callback in leg["callbacks"]:
            callback["futureCommunicationKey"] = True
    return body


def stripped_body() -> dict[str, Any]:
    """The sample without attributes, names and the first participant's media array."""
    body = sample_body()
    for leg in body["participants"]:
        leg.pop("attributes", None)
        leg.pop("name", None)
    del body["participants"][0]["callbacks"]
    return body


def test_schema_drift_kept_counted_forwarded(
    simulator: Simulator, clock: FakeClock, tmp_path: Path
) -> None:
    stores = local_stores(tmp_path, clock)

    with running_pipeline(simulator, clock, stores, (USER_TOPIC,)) as pipeline:
        publish(pipeline, USER_TOPIC, drifted_body(), "corr-drift")
        drifted = stored(stores, SAMPLE_ID)
        surprises = pipeline.totals()["SchemaSurprises"]
        publish(pipeline, USER_TOPIC, stripped_body(), "corr-stripped")
        totals = pipeline.totals()
    item = stored(stores, SAMPLE_ID).item
    legs = {leg["id"]: leg for leg in item["participants"]}
    customer = legs["9a0231a0-8882-41bb-9b2c-d2f275736270"]
    forwarded = messages(tmp_path)

    assert surprises >= 3
    assert totals["MergeErrors"] == 0
    assert drifted.item["conversation"]["futureConversationKey"] == {"nested": [1, 2]}
    assert legs[CONNECTED_AGENT]["futureParticipantKey"] == "p"
    assert legs[CONNECTED_AGENT]["communications"][0]["futureCommunicationKey"] is True
    assert customer["name"] == "VideoCall from Alex Sample"
    assert customer["communications"]
    assert types(forwarded)[0] == CONVERSATION_STARTED
    assert PARTICIPANT_JOINED in types(forwarded)
    for body in forwarded:
        assert validate_message(body) == []


# Stale writer


def ended_body() -> dict[str, Any]:
    """The sample once over: every leg and callback disconnected, the agent wrapped up."""
    body = sample_body()
    for leg in body["participants"]:
        leg.setdefault("endTime", "2022-07-04T20:30:00.000Z")
        if "startAcwTime" in leg:
            leg["endAcwTime"] = "2022-07-04T20:30:00.000Z"
            leg["wrapup"] = {"code": "code-resolved", "name": "Resolved"}
        for callback in leg["callbacks"]:
            callback["state"] = "disconnected"
            callback.setdefault("disconnectedTime", "2022-07-04T20:30:00.000Z")
    return body


def held_body() -> dict[str, Any]:
    """The sample with the connected agent's callback on hold: older than the hang-up."""
    body = sample_body()
    for leg in body["participants"]:
        if leg["id"] == CONNECTED_AGENT:
            leg["callbacks"][0]["held"] = True
    return body


def test_stale_writer_never_regresses(
    simulator: Simulator,
    clock: FakeClock,
    dynamodb_client: Any,
    dynamodb_table: Callable[..., str],
    tmp_path: Path,
) -> None:
    """Another writer stores the hang-up; the service's next write joins it, never undoes it."""
    table = dynamodb_table(ttl_attribute="expiresAt")
    stores = Stores(
        states=DynamoStateStore(dynamodb_client, table, clock),
        queue=LocalEventQueue(tmp_path / "events.jsonl", clock),
    )
    other = DynamoStateStore(dynamodb_client, table, clock)
    revisions = []
    states = []

    with running_pipeline(simulator, clock, stores, (USER_TOPIC,)) as pipeline:
        publish(pipeline, USER_TOPIC, sample_body(), "corr-1")
        first = stored(stores, SAMPLE_ID)

        # A second writer (a replica in a failover overlap) merges the hang-up.
        theirs = merge(decode_state(first), from_snapshot(ended_body(), clock.time())).state
        other.save(encode_state(theirs, clock.time(), 86400), expected_revision=first.revision)
        revisions.append(stored(stores, SAMPLE_ID).revision)
        states.append(stored(stores, SAMPLE_ID).item["state"])

        # The service, unaware of it, merges an older change and writes.
        publish(pipeline, USER_TOPIC, held_body(), "corr-2")
        revisions.append(stored(stores, SAMPLE_ID).revision)
        states.append(stored(stores, SAMPLE_ID).item["state"])
        publish(pipeline, USER_TOPIC, sample_body(), "corr-3")
        revisions.append(stored(stores, SAMPLE_ID).revision)
        states.append(stored(stores, SAMPLE_ID).item["state"])
        totals = pipeline.totals()
    final = decode_state(stored(stores, SAMPLE_ID))

    assert first.revision == 1
    assert revisions[0] == 2
    assert revisions == sorted(revisions)
    assert revisions[1] > revisions[0]
    assert states == ["ended", "ended", "ended"]
    assert totals["MergeConflicts"] >= 1
    assert project(final) == project(merge(None, from_snapshot(ended_body(), 0.0)).state)
