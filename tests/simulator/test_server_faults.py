"""Simulator faults: closes, drops, system frames, silence, HTTP failures, control API."""

from __future__ import annotations

from typing import Any

import pytest

from simulator import Simulator

QUEUE_TOPIC = "v2.routing.queues.q1.conversations"
SUBSCRIPTIONS = "/api/v2/notifications/channels/*/subscriptions"


def open_channel(client: Any) -> tuple[str, str, Any]:
    """Return a token, a channel id and an open socket on a channel subscribed to one topic."""
    token = client.token()
    channel = client.create_channel(token)
    client.subscribe(token, channel["id"], [QUEUE_TOPIC]).raise_for_status()
    return token, channel["id"], client.connect(channel["connectUri"])


@pytest.mark.parametrize("code", [1000, 1001])
def test_close_sockets_with_code(client: Any, simulator: Simulator, code: int) -> None:
    _, _, ws = open_channel(client)

    closed = simulator.faults.close_sockets(code)

    assert closed == 1
    assert client.close_code(ws) == code
    assert simulator.faults.counts["close_sockets"] == 1


def test_close_sockets_of_one_channel(client: Any, simulator: Simulator) -> None:
    _, first_id, first = open_channel(client)
    _, _, second = open_channel(client)

    simulator.faults.close_sockets(1001, channel_id=first_id)
    simulator.publish(QUEUE_TOPIC, {"id": "c1"})

    assert client.close_code(first) == 1001
    assert client.next_frame(second)["eventBody"] == {"id": "c1"}


def test_drop_sockets_without_close_frame(client: Any, simulator: Simulator) -> None:
    _, _, ws = open_channel(client)

    dropped = simulator.faults.drop_sockets()

    assert dropped == 1
    assert client.close_code(ws) == 1006


def test_frames_before_drop_arrive(client: Any, simulator: Simulator) -> None:
    _, _, ws = open_channel(client)

    simulator.publish(QUEUE_TOPIC, {"id": "last"})
    simulator.faults.drop_sockets()

    assert client.next_frame(ws)["eventBody"] == {"id": "last"}
    assert client.close_code(ws) == 1006


def test_socket_closing_frame(client: Any, simulator: Simulator) -> None:
    _, channel_id, ws = open_channel(client)

    simulator.faults.send_socket_closing()

    frame = client.next_frame(ws)
    assert frame["topicName"] == "v2.system.socket_closing"
    assert frame["eventBody"]["channelId"] == channel_id
    assert set(frame["eventBody"]) == {"channelId", "systemTopicType", "reason", "message"}


def test_socket_closing_then_close_later(client: Any, simulator: Simulator, clock: Any) -> None:
    _, _, ws = open_channel(client)
    simulator.faults.send_socket_closing(close_after=55)

    clock.advance(54)
    simulator.publish(QUEUE_TOPIC, {"id": "during overlap"})
    clock.advance(1)

    assert client.next_frame(ws)["topicName"] == "v2.system.socket_closing"
    assert client.next_frame(ws)["eventBody"]["message"] == "WebSocket Heartbeat"
    assert client.next_frame(ws)["eventBody"] == {"id": "during overlap"}
    assert client.close_code(ws) == 1000


def test_send_404_keeps_channel(client: Any, simulator: Simulator) -> None:
    token, channel_id, ws = open_channel(client)

    simulator.faults.send_404(channel_id)

    frame = client.next_frame(ws)
    assert frame["result"] == "404"
    assert "topicName" not in frame
    assert client.head(token, channel_id) == 200


def test_evict_channel(client: Any, simulator: Simulator) -> None:
    token, channel_id, ws = open_channel(client)

    evicted = simulator.faults.evict_channel(channel_id)

    assert evicted
    assert client.next_frame(ws)["result"] == "404"
    assert client.head(token, channel_id) == 404
    assert simulator.faults.evict_channel(channel_id) is False


def test_stop_and_resume_heartbeats(client: Any, simulator: Simulator, clock: Any) -> None:
    _, _, ws = open_channel(client)
    simulator.faults.stop_heartbeats()

    clock.advance(90)
    simulator.publish(QUEUE_TOPIC, {"id": "after silence"})
    simulator.faults.resume_heartbeats()
    clock.advance(30)

    assert client.next_frame(ws)["eventBody"] == {"id": "after silence"}
    assert client.next_frame(ws)["eventBody"]["message"] == "WebSocket Heartbeat"


def test_stop_heartbeats_applies_to_new_channels(
    client: Any, simulator: Simulator, clock: Any
) -> None:
    simulator.faults.stop_heartbeats()
    _, _, ws = open_channel(client)

    clock.advance(30)
    simulator.publish(QUEUE_TOPIC, {"id": "no heartbeat before me"})

    assert client.next_frame(ws)["eventBody"] == {"id": "no heartbeat before me"}


def test_fail_next_with_retry_after(client: Any, simulator: Simulator) -> None:
    token = client.token()
    channel_id = client.create_channel(token)["id"]
    simulator.faults.fail_next("PUT", SUBSCRIPTIONS, count=2, status=429, retry_after=5)

    first = client.subscribe(token, channel_id, [QUEUE_TOPIC])
    second = client.subscribe(token, channel_id, [QUEUE_TOPIC])
    third = client.subscribe(token, channel_id, [QUEUE_TOPIC])

    assert first.status_code == 429
    assert first.headers["Retry-After"] == "5"
    assert second.status_code == 429
    assert third.status_code == 200
    assert simulator.faults.counts["fail_next"] == 2
    assert [r.status for r in simulator.requests if r.method == "PUT"] == [429, 429, 200]


def test_fail_next_star_stays_in_segment(client: Any, simulator: Simulator) -> None:
    token = client.token()
    simulator.faults.fail_next("*", "/api/v2/notifications/*", status=503)

    channel = client.call("GET", "/api/v2/notifications/channels/x/subscriptions", token)
    listing = client.call("GET", "/api/v2/notifications/channels", token)

    assert channel.status_code == 404
    assert listing.status_code == 503


def test_fail_next_token_endpoint(client: Any, simulator: Simulator) -> None:
    simulator.faults.fail_next("POST", "/oauth/token", status=503)

    failed = client.request_token()
    recovered = client.request_token()

    assert failed.status_code == 503
    assert "Retry-After" not in failed.headers
    assert recovered.status_code == 200


def test_fail_next_rejects_bad_status(simulator: Simulator) -> None:
    with pytest.raises(ValueError, match="status"):
        simulator.faults.fail_next("GET", "/api/v2/users", status=200)


def test_control_fail_next(client: Any, simulator: Simulator) -> None:
    rule = {"method": "POST", "path": "/api/v2/notifications/channels", "count": 1}

    control = client.http.post(
        client.url("/sim/control/fail_next"),
        json={**rule, "status": 429, "retry_after": 59},
        timeout=5,
    )
    failed = client.call("POST", "/api/v2/notifications/channels", client.token())

    assert control.status_code == 200
    assert failed.status_code == 429
    assert failed.headers["Retry-After"] == "59"


def test_control_send_404_and_counts(client: Any, simulator: Simulator) -> None:
    _, channel_id, ws = open_channel(client)

    client.http.post(
        client.url("/sim/control/send_404"), json={"channel_id": channel_id}, timeout=5
    )
    counts = client.http.get(client.url("/sim/control/counts"), timeout=5).json()

    assert client.next_frame(ws)["result"] == "404"
    assert counts == {"send_404": 1}


def test_control_drop_sockets_without_body(client: Any, simulator: Simulator) -> None:
    _, _, ws = open_channel(client)

    response = client.http.post(client.url("/sim/control/drop_sockets"), timeout=5)

    assert response.json() == {"fault": "drop_sockets", "result": 1}
    assert client.close_code(ws) == 1006


def test_control_channels_listing(client: Any, simulator: Simulator) -> None:
    _, channel_id, _ = open_channel(client)

    listing = client.http.get(client.url("/sim/control/channels"), timeout=5).json()

    assert listing["entities"][0]["id"] == channel_id
    assert listing["entities"][0]["topics"] == [QUEUE_TOPIC]
    assert listing["entities"][0]["connected"] == 1


def test_control_unknown_fault_404(client: Any) -> None:
    response = client.http.post(client.url("/sim/control/melt_down"), json={}, timeout=5)

    assert response.status_code == 404


def test_control_bad_arguments_400(client: Any) -> None:
    response = client.http.post(
        client.url("/sim/control/delay_pongs"), json={"minutes": 3}, timeout=5
    )

    assert response.status_code == 400


def test_control_requests_not_recorded(client: Any, simulator: Simulator) -> None:
    client.http.get(client.url("/sim/control/counts"), timeout=5)

    assert simulator.requests == []


def test_no_longer_subscribed_drops_topics(client: Any, simulator: Simulator) -> None:
    _, channel_id, ws = open_channel(client)

    sent = simulator.faults.send_no_longer_subscribed(channel_id)
    lost = simulator.publish(QUEUE_TOPIC, {"id": "c1"})

    frame = client.next_frame(ws)
    assert sent == 1
    assert frame["topicName"] == f"v2.system.no_longer_subscribed.{channel_id}"
    assert frame["eventBody"]["systemTopicType"] == "no_longer_subscribed"
    assert lost == 0
    assert simulator.channels[channel_id].topics == ()


def test_revoke_tokens(client: Any, simulator: Simulator) -> None:
    token, channel_id, ws = open_channel(client)

    removed = simulator.faults.revoke_tokens()

    frame = client.next_frame(ws)
    assert removed == 1
    assert frame["topicName"] == f"v2.system.token_revoked.{channel_id}"
    assert frame["eventBody"]["channelId"] == channel_id
    assert client.head(token, channel_id) == 401
    assert client.head(client.token(), channel_id) == 404
