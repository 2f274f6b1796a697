"""Simulator WebSocket: frames, heartbeats, ping and pong, one socket per channel, expiry."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
import websocket

from simulator import Simulator

QUEUE_TOPIC = "v2.routing.queues.q1.conversations"


@dataclass(frozen=True)
class StandInEmission:
    at: float
    topic: str
    body: dict[str, Any]
    correlation_id: str


@dataclass
class StandInScenario:
    emissions: list[StandInEmission]
    truth: Any = None


def open_subscribed(client: Any, topics: list[str], **settings: str) -> tuple[str, str, Any]:
    """Return a token, a channel id and an open socket subscribed to ``topics``."""
    token = client.token()
    channel = client.create_channel(token)
    client.subscribe(token, channel["id"], topics, **settings).raise_for_status()
    return token, channel["id"], client.connect(channel["connectUri"])


def test_publish_sends_data_frame(client: Any, simulator: Simulator) -> None:
    _, _, ws = open_subscribed(client, [QUEUE_TOPIC])

    delivered = simulator.publish(QUEUE_TOPIC, {"id": "c1"}, correlation_id="cid-1")

    assert delivered == 1
    assert client.next_frame(ws) == {
        "topicName": QUEUE_TOPIC,
        "version": "2",
        "eventBody": {"id": "c1"},
        "metadata": {"CorrelationId": "cid-1"},
    }


def test_publish_skips_unsubscribed_topic(client: Any, simulator: Simulator) -> None:
    _, _, ws = open_subscribed(client, [QUEUE_TOPIC])

    skipped = simulator.publish("v2.routing.queues.q2.conversations", {"id": "c2"})
    simulator.publish(QUEUE_TOPIC, {"id": "c1"})

    assert skipped == 0
    assert client.next_frame(ws)["eventBody"] == {"id": "c1"}


def test_publish_without_socket_is_lost(client: Any, simulator: Simulator) -> None:
    token = client.token()
    channel = client.create_channel(token)
    client.subscribe(token, channel["id"], [QUEUE_TOPIC]).raise_for_status()

    lost = simulator.publish(QUEUE_TOPIC, {"id": "lost"})
    ws = client.connect(channel["connectUri"])
    simulator.publish(QUEUE_TOPIC, {"id": "seen"})

    assert lost == 0
    assert client.next_frame(ws)["eventBody"] == {"id": "seen"}


def test_combined_topic_delivers_expanded_names(client: Any, simulator: Simulator) -> None:
    _, _, ws = open_subscribed(client, ["v2.users.u1?conversations&presence"])

    simulator.publish("v2.users.u1.presence", {"primary": True})

    assert client.next_frame(ws)["topicName"] == "v2.users.u1.presence"


def test_rejected_topic_delivers_nothing(make_simulator: Any, make_client: Any) -> None:
    forbidden = "v2.users.u9.conversations"
    sim = make_simulator(rejected_topics={forbidden})
    client = make_client(sim)
    _, _, ws = open_subscribed(client, [QUEUE_TOPIC, forbidden], ignoreErrors="true")

    skipped = sim.publish(forbidden, {"id": "c9"})
    sim.publish(QUEUE_TOPIC, {"id": "c1"})

    assert skipped == 0
    assert client.next_frame(ws)["eventBody"] == {"id": "c1"}


def test_heartbeat_every_interval(client: Any, simulator: Simulator, clock: Any) -> None:
    _, _, ws = open_subscribed(client, [QUEUE_TOPIC])

    clock.advance(29)
    simulator.publish(QUEUE_TOPIC, {"id": "before"})
    clock.advance(1)
    first, second = client.next_frame(ws), client.next_frame(ws)
    clock.advance(30)
    third = client.next_frame(ws)

    heartbeat = {"topicName": "channel.metadata", "eventBody": {"message": "WebSocket Heartbeat"}}
    assert first["eventBody"] == {"id": "before"}
    assert second == heartbeat
    assert third == heartbeat


def test_ping_answered_with_pong(client: Any) -> None:
    _, _, ws = open_subscribed(client, [QUEUE_TOPIC])

    ws.send('{"message":"ping"}')

    assert client.next_frame(ws) == {
        "topicName": "channel.metadata",
        "eventBody": {"message": "pong"},
    }


def test_pong_delayed_on_clock(client: Any, simulator: Simulator, clock: Any) -> None:
    _, _, ws = open_subscribed(client, [QUEUE_TOPIC])
    simulator.faults.delay_pongs(1.5)
    timers_before = clock.timers_set

    ws.send('{"message":"ping"}')
    assert clock.wait_timers_set(timers_before + 1)
    simulator.publish(QUEUE_TOPIC, {"id": "marker"})
    clock.advance(1.5)

    assert client.next_frame(ws)["eventBody"] == {"id": "marker"}
    assert client.next_frame(ws)["eventBody"] == {"message": "pong"}
    assert simulator.faults.counts["delay_pongs"] == 1


def test_pong_dropped(client: Any, simulator: Simulator) -> None:
    _, _, ws = open_subscribed(client, [QUEUE_TOPIC])
    simulator.faults.drop_pongs(True)

    ws.send('{"message":"ping"}')
    ws.send('{"message":"ping"}')
    simulator.faults.drop_pongs(False)
    ws.send('{"message":"ping"}')

    assert client.next_frame(ws)["eventBody"] == {"message": "pong"}


def test_second_socket_closes_first(client: Any, simulator: Simulator) -> None:
    _, channel_id, first = open_subscribed(client, [QUEUE_TOPIC])
    second = client.connect(f"{simulator.ws_url}/channels/{channel_id}")

    code = client.close_code(first)
    simulator.publish(QUEUE_TOPIC, {"id": "c1"})

    assert code == 1000
    assert client.next_frame(second)["eventBody"] == {"id": "c1"}


def test_unknown_channel_gets_404_frame(client: Any, simulator: Simulator) -> None:
    ws = client.connect(f"{simulator.ws_url}/channels/streaming-2-unknown")

    frame = client.next_frame(ws)

    assert frame["result"] == "404"
    assert "topicName" not in frame


def test_unknown_path_rejected(simulator: Simulator) -> None:
    with pytest.raises(websocket.WebSocketBadStatusException):
        websocket.create_connection(f"{simulator.ws_url}/elsewhere", timeout=5)


def test_channel_expiry_sends_404_frame(make_simulator: Any, make_client: Any, clock: Any) -> None:
    client = make_client(make_simulator(token_ttl=200_000, heartbeat_interval=100_000))
    _, _, ws = open_subscribed(client, [QUEUE_TOPIC])

    clock.advance(86_400)
    frame = client.next_frame(ws)

    assert frame["result"] == "404"
    assert "expired" in frame["message"]


def test_token_expiry_sends_404_frame(make_simulator: Any, make_client: Any, clock: Any) -> None:
    client = make_client(make_simulator(token_ttl=600, heartbeat_interval=1000))
    _, _, ws = open_subscribed(client, [QUEUE_TOPIC])

    clock.advance(600)
    frame = client.next_frame(ws)

    assert frame["result"] == "404"
    assert "token" in frame["message"]


def test_gone_channel_socket_stays_silent(client: Any, simulator: Simulator, clock: Any) -> None:
    token, channel_id, ws = open_subscribed(client, [QUEUE_TOPIC])
    simulator.faults.evict_channel(channel_id)
    client.next_frame(ws)

    ws.send('{"message":"ping"}')
    clock.advance(60)
    # A fresh channel's frame is the next thing the client can see anywhere.
    other = client.create_channel(token)
    client.subscribe(token, other["id"], [QUEUE_TOPIC]).raise_for_status()
    other_ws = client.connect(other["connectUri"])
    simulator.publish(QUEUE_TOPIC, {"id": "c1"})

    assert client.next_frame(other_ws)["eventBody"] == {"id": "c1"}
    ws.settimeout(0.2)
    with pytest.raises(websocket.WebSocketTimeoutException):
        ws.recv()


def test_load_publishes_emissions_on_clock(client: Any, simulator: Simulator, clock: Any) -> None:
    start = simulator.clock.time()
    _, _, ws = open_subscribed(client, [QUEUE_TOPIC])
    scenario = StandInScenario(
        [
            StandInEmission(start + 20, QUEUE_TOPIC, {"id": "second"}, "cid-2"),
            StandInEmission(start + 10, QUEUE_TOPIC, {"id": "first"}, "cid-1"),
            StandInEmission(start + 10, "v2.users.u1.conversations", {"id": "other"}, "cid-3"),
        ]
    )
    simulator.load(scenario)

    clock.advance(10)
    first = client.next_frame(ws)
    clock.advance(10)
    second = client.next_frame(ws)

    assert first["metadata"]["CorrelationId"] == "cid-1"
    assert second["eventBody"] == {"id": "second"}


def test_load_again_cancels_pending_emissions(
    client: Any, simulator: Simulator, clock: Any
) -> None:
    start = simulator.clock.time()
    _, _, ws = open_subscribed(client, [QUEUE_TOPIC])
    simulator.load(StandInScenario([StandInEmission(start + 5, QUEUE_TOPIC, {"id": "old"}, "a")]))
    simulator.load(StandInScenario([StandInEmission(start + 6, QUEUE_TOPIC, {"id": "new"}, "b")]))

    clock.advance(6)

    assert client.next_frame(ws)["eventBody"] == {"id": "new"}


def test_channels_inspection(client: Any, simulator: Simulator) -> None:
    token, channel_id, _ = open_subscribed(client, [QUEUE_TOPIC])

    state = simulator.channels[channel_id]

    assert state.topics == (QUEUE_TOPIC,)
    assert state.connected == 1
    assert state.token == token
    assert state.expires == simulator.clock.time() + 86_400


def test_generated_traffic_reaches_socket(client: Any, simulator: Simulator, clock: Any) -> None:
    from simulator.traffic import TrafficConfig, generate

    scenario = generate(
        TrafficConfig(conversations=3, start=simulator.clock.time() + 1, duration=10, seed=7)
    )
    simulator.load(scenario)
    topics = [f"v2.routing.queues.{q['id']}.conversations" for q in scenario.truth.queues()]
    _, _, ws = open_subscribed(client, topics)
    expected = [e.correlation_id for e in scenario.emissions if e.topic in topics]

    clock.advance(3600)
    received: list[str] = []
    while len(received) < len(expected):
        frame = client.next_frame(ws)
        if frame["topicName"] != "channel.metadata":
            received.append(frame["metadata"]["CorrelationId"])

    assert expected
    assert received == expected


def test_slow_reader_dropped(
    client: Any,
    simulator: Simulator,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    monkeypatch.setattr("simulator.websocket.MAX_QUEUED_FRAMES", 5)
    _, _, ws = open_subscribed(client, [QUEUE_TOPIC])
    body = {"id": "c1", "attributes": {"padding": "x" * 100_000}}

    for _ in range(300):
        simulator.publish(QUEUE_TOPIC, body)

    assert client.close_code(ws) == 1006
    assert "socket.send_queue_full" in caplog.messages
