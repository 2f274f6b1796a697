"""Simulator over HTTP: OAuth, channels, subscriptions, limits and REST from the truth."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pytest

from simulator import Simulator

QUEUE_TOPIC = "v2.routing.queues.q1.conversations"
CHANNELS = "/api/v2/notifications/channels"


@dataclass
class StandInTruth:
    """A tiny truth: conversations that exist from a given epoch time."""

    conversations: dict[str, tuple[float, dict[str, Any]]] = field(default_factory=dict)
    records: list[dict[str, Any]] = field(default_factory=list)
    queue_list: list[dict[str, Any]] = field(default_factory=list)
    user_list: list[dict[str, Any]] = field(default_factory=list)
    queries: list[tuple[float, float, float]] = field(default_factory=list)

    def rest_conversation(self, conversation_id: str, at: float) -> Mapping[str, Any] | None:
        found = self.conversations.get(conversation_id)
        if found is None or found[0] > at:
            return None
        return found[1]

    def analytics_query(self, start: float, end: float, at: float) -> Sequence[Mapping[str, Any]]:
        self.queries.append((start, end, at))
        return self.records

    def queues(self) -> Sequence[Mapping[str, Any]]:
        return self.queue_list

    def users(self) -> Sequence[Mapping[str, Any]]:
        return self.user_list


@dataclass
class StandInScenario:
    emissions: list[Any]
    truth: StandInTruth


def test_oauth_token_issued(client: Any) -> None:
    response = client.request_token()

    body = response.json()
    assert response.status_code == 200
    assert body["token_type"] == "bearer"
    assert body["expires_in"] == 86400
    assert len(body["access_token"]) >= 32


def test_oauth_bad_secret_401(client: Any) -> None:
    response = client.request_token(secret="wrong")

    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"


def test_oauth_without_basic_auth_401(client: Any) -> None:
    response = client.http.post(
        client.url("/oauth/token"), data={"grant_type": "client_credentials"}, timeout=5
    )

    assert response.status_code == 401


def test_oauth_wrong_grant_type_400(client: Any) -> None:
    response = client.http.post(
        client.url("/oauth/token"),
        auth=("sim-client", "sim-secret"),
        data={"grant_type": "password"},
        timeout=5,
    )

    assert response.status_code == 400
    assert response.json()["error"] == "unsupported_grant_type"


def test_api_unknown_token_401(client: Any) -> None:
    response = client.call("POST", CHANNELS, "not-a-token")

    assert response.status_code == 401
    assert response.json()["status"] == 401


def test_api_token_expires_on_clock(make_simulator: Any, make_client: Any, clock: Any) -> None:
    client = make_client(make_simulator(token_ttl=600))
    token = client.token()

    clock.advance(599)
    before = client.call("GET", CHANNELS, token).status_code
    clock.advance(1)
    after = client.call("GET", CHANNELS, token).status_code

    assert before == 200
    assert after == 401


def test_channel_created_shape(client: Any, simulator: Simulator) -> None:
    channel = client.create_channel(client.token())

    assert re.fullmatch(r"streaming-2-[a-z0-9]{26}", channel["id"])
    assert channel["connectUri"] == f"{simulator.ws_url}/channels/{channel['id']}"
    assert channel["expires"] == "2026-01-02T00:00:00.000Z"


def test_channel_head_found_and_missing(client: Any) -> None:
    token = client.token()
    channel = client.create_channel(token)

    assert client.head(token, channel["id"]) == 200
    assert client.head(token, "streaming-2-unknown") == 404


def test_channel_expires_after_24_hours(make_simulator: Any, make_client: Any, clock: Any) -> None:
    client = make_client(make_simulator(token_ttl=200_000))
    token = client.token()
    channel = client.create_channel(token)

    clock.advance(86_399)
    alive = client.head(token, channel["id"])
    clock.advance(1)
    gone = client.head(token, channel["id"])

    assert alive == 200
    assert gone == 404


def test_resubscribe_extends_channel(make_simulator: Any, make_client: Any, clock: Any) -> None:
    client = make_client(make_simulator(token_ttl=200_000))
    token = client.token()
    channel = client.create_channel(token)

    clock.advance(80_000)
    client.subscribe(token, channel["id"], [QUEUE_TOPIC]).raise_for_status()
    clock.advance(80_000)
    extended = client.head(token, channel["id"])
    clock.advance(6_400)
    expired = client.head(token, channel["id"])

    assert extended == 200
    assert expired == 404


def test_channel_gone_with_its_token(make_simulator: Any, make_client: Any, clock: Any) -> None:
    client = make_client(make_simulator(token_ttl=600))
    token = client.token()
    channel = client.create_channel(token)
    clock.advance(300)
    newer = client.token()

    clock.advance(300)

    assert client.head(newer, channel["id"]) == 404


def test_list_channels_of_token(client: Any) -> None:
    first, second = client.token(), client.token()
    mine = client.create_channel(first)
    client.create_channel(second)

    listed = client.call("GET", CHANNELS, first, includechannels="token").json()
    of_client = client.call("GET", CHANNELS, first, includechannels="oauthclient").json()

    assert [c["id"] for c in listed["entities"]] == [mine["id"]]
    assert len(of_client["entities"]) == 2


def test_subscriptions_put_get_delete(client: Any) -> None:
    token = client.token()
    channel_id = client.create_channel(token)["id"]
    path = f"{CHANNELS}/{channel_id}/subscriptions"

    put = client.subscribe(token, channel_id, [QUEUE_TOPIC, "v2.users.u1.conversations"])
    replaced = client.subscribe(token, channel_id, ["v2.users.u2.conversations.calls"])
    added = client.subscribe(token, channel_id, [QUEUE_TOPIC], method="POST")
    listed = client.call("GET", path, token).json()
    deleted = client.call("DELETE", path, token)
    after_delete = client.call("GET", path, token).json()

    assert put.status_code == 200
    assert [e["id"] for e in replaced.json()["entities"]] == ["v2.users.u2.conversations.calls"]
    assert added.status_code == 200
    assert listed["entities"] == [
        {"id": "v2.users.u2.conversations.calls", "state": "Permitted"},
        {"id": QUEUE_TOPIC, "state": "Permitted"},
    ]
    assert deleted.status_code == 204
    assert after_delete["entities"] == []


def test_subscriptions_over_1000_topics_400(client: Any) -> None:
    token = client.token()
    channel_id = client.create_channel(token)["id"]
    topics = [f"v2.routing.queues.q{i}.conversations" for i in range(1001)]

    full = client.subscribe(token, channel_id, topics[:1000])
    over_by_put = client.subscribe(token, channel_id, topics)
    over_by_post = client.subscribe(token, channel_id, topics[1000:], method="POST")

    assert full.status_code == 200
    assert over_by_put.status_code == 400
    assert over_by_post.status_code == 400
    assert "1000" in over_by_post.json()["message"]


def test_combined_topic_counts_once(make_simulator: Any, make_client: Any) -> None:
    client = make_client(make_simulator(max_topics=1))
    token = client.token()
    channel_id = client.create_channel(token)["id"]

    response = client.subscribe(token, channel_id, ["v2.users.u1?conversations&presence"])

    assert response.status_code == 200
    assert response.json()["entities"][0]["state"] == "Permitted"


def test_combined_topic_over_200_chars_rejected(client: Any) -> None:
    token = client.token()
    channel_id = client.create_channel(token)["id"]
    topic = "v2.users." + "u" * 180 + "?conversations&presence"

    response = client.subscribe(token, channel_id, [topic], ignoreErrors="true")

    entity = response.json()["entities"][0]
    assert entity["state"] == "Rejected"
    assert "200" in entity["rejectionReason"]


def test_rejected_topic_with_ignore_errors(make_simulator: Any, make_client: Any) -> None:
    forbidden = "v2.users.u9.conversations"
    client = make_client(make_simulator(rejected_topics={forbidden}))
    token = client.token()
    channel_id = client.create_channel(token)["id"]

    response = client.subscribe(
        token, channel_id, [QUEUE_TOPIC, forbidden, "v2.nonsense.x"], ignoreErrors="true"
    )

    states = {e["id"]: e for e in response.json()["entities"]}
    assert response.status_code == 200
    assert states[QUEUE_TOPIC]["state"] == "Permitted"
    assert states[forbidden]["state"] == "Rejected"
    assert states[forbidden]["missingPermissions"]
    assert states["v2.nonsense.x"]["state"] == "Rejected"
    assert "not a known" in states["v2.nonsense.x"]["rejectionReason"]


def test_rejected_topic_fails_batch_without_ignore_errors(
    make_simulator: Any, make_client: Any
) -> None:
    forbidden = "v2.users.u9.conversations"
    client = make_client(make_simulator(rejected_topics=lambda topic: topic == forbidden))
    token = client.token()
    channel_id = client.create_channel(token)["id"]
    client.subscribe(token, channel_id, [QUEUE_TOPIC]).raise_for_status()

    response = client.subscribe(token, channel_id, ["v2.users.u1.conversations", forbidden])
    kept = client.call("GET", f"{CHANNELS}/{channel_id}/subscriptions", token).json()

    assert response.status_code == 400
    assert forbidden in response.json()["message"]
    assert [e["id"] for e in kept["entities"]] == [QUEUE_TOPIC]


def test_subscriptions_malformed_body_400(client: Any) -> None:
    token = client.token()
    channel_id = client.create_channel(token)["id"]

    response = client.call(
        "PUT", f"{CHANNELS}/{channel_id}/subscriptions", token, json={"id": QUEUE_TOPIC}
    )

    assert response.status_code == 400


def test_21st_channel_evicts_oldest_unconnected(client: Any, simulator: Simulator) -> None:
    token = client.token()
    channels = [client.create_channel(token) for _ in range(20)]
    client.connect(channels[0]["connectUri"])

    client.create_channel(token)

    assert client.head(token, channels[0]["id"]) == 200
    assert client.head(token, channels[1]["id"]) == 404
    assert client.head(token, channels[2]["id"]) == 200
    assert len(simulator.channels) == 20


def test_channel_limit_evicts_oldest_when_all_connected(
    make_simulator: Any, make_client: Any
) -> None:
    client = make_client(make_simulator(max_channels=2))
    token = client.token()
    first, second = client.create_channel(token), client.create_channel(token)
    old_socket = client.connect(first["connectUri"])
    client.connect(second["connectUri"])

    client.create_channel(token)

    assert client.head(token, first["id"]) == 404
    assert client.head(token, second["id"]) == 200
    assert client.next_frame(old_socket)["result"] == "404"


def test_conversation_from_truth_as_of_clock(client: Any, simulator: Simulator, clock: Any) -> None:
    now = simulator.clock.time()
    truth = StandInTruth(conversations={"c1": (now + 10, {"id": "c1", "participants": []})})
    simulator.load(StandInScenario([], truth))
    token = client.token()

    early = client.call("GET", "/api/v2/conversations/c1", token)
    clock.advance(10)
    found = client.call("GET", "/api/v2/conversations/c1", token)
    unknown = client.call("GET", "/api/v2/conversations/c2", token)

    assert early.status_code == 404
    assert found.json() == {"id": "c1", "participants": []}
    assert unknown.status_code == 404


def test_conversation_list_empty_for_client(client: Any) -> None:
    response = client.call("GET", "/api/v2/conversations", client.token())

    assert response.status_code == 200
    assert response.json()["entities"] == []


def test_analytics_query_pages(client: Any, simulator: Simulator) -> None:
    truth = StandInTruth(records=[{"conversationId": f"c{i}"} for i in range(5)])
    simulator.load(StandInScenario([], truth))
    token = client.token()
    query = {
        "interval": "2026-01-01T00:00:00.000Z/2026-01-01T01:00:00.000Z",
        "paging": {"pageSize": 2, "pageNumber": 3},
    }

    response = client.call("POST", "/api/v2/analytics/conversations/details/query", token, query)

    body = response.json()
    assert body["totalHits"] == 5
    assert body["conversations"] == [{"conversationId": "c4"}]
    assert truth.queries == [(1_767_225_600.0, 1_767_229_200.0, simulator.clock.time())]


def test_analytics_query_empty_page_omits_conversations(client: Any, simulator: Simulator) -> None:
    simulator.load(StandInScenario([], StandInTruth()))
    query = {"interval": "2026-01-01T00:00:00Z/2026-01-01T01:00:00Z"}

    response = client.call(
        "POST", "/api/v2/analytics/conversations/details/query", client.token(), query
    )

    assert response.json() == {"totalHits": 0}


def test_analytics_query_bad_interval_400(client: Any) -> None:
    query = {"interval": "yesterday"}

    response = client.call(
        "POST", "/api/v2/analytics/conversations/details/query", client.token(), query
    )

    assert response.status_code == 400


def test_queues_paged(client: Any, simulator: Simulator) -> None:
    truth = StandInTruth(queue_list=[{"id": f"q{i}", "name": f"Queue {i}"} for i in range(3)])
    simulator.load(StandInScenario([], truth))

    body = client.call("GET", "/api/v2/routing/queues", client.token(), pageSize="2").json()

    assert [q["id"] for q in body["entities"]] == ["q0", "q1"]
    assert body["total"] == 3
    assert body["pageCount"] == 2
    assert body["pageNumber"] == 1
    assert body["nextUri"] == "/api/v2/routing/queues?pageSize=2&pageNumber=2"


def test_users_paged(client: Any, simulator: Simulator) -> None:
    truth = StandInTruth(user_list=[{"id": f"u{i}"} for i in range(3)])
    simulator.load(StandInScenario([], truth))

    body = client.call("GET", "/api/v2/users", client.token(), pageSize="2", pageNumber="2").json()

    assert body["entities"] == [{"id": "u2"}]
    assert "nextUri" not in body


def test_requests_recorded_without_query(client: Any, simulator: Simulator) -> None:
    token = client.token()

    client.call("GET", CHANNELS, token, includechannels="token")

    assert [(r.method, r.path, r.status) for r in simulator.requests] == [
        ("POST", "/oauth/token", 200),
        ("GET", CHANNELS, 200),
    ]


def test_unknown_path_404(client: Any) -> None:
    response = client.call("GET", "/api/v2/nothing", client.token())

    assert response.status_code == 404


def test_simulator_rejects_bad_settings() -> None:
    with pytest.raises(ValueError, match="token_ttl"):
        Simulator(token_ttl=0)


def test_api_rate_limit_per_token(make_simulator: Any, make_client: Any, clock: Any) -> None:
    client = make_client(make_simulator(api_rate_limit=3))
    token, other = client.token(), client.token()

    allowed = [client.call("GET", CHANNELS, token).status_code for _ in range(3)]
    limited = client.call("GET", CHANNELS, token)
    other_token = client.call("GET", CHANNELS, other)
    clock.advance(60)
    recovered = client.call("GET", CHANNELS, token)

    assert allowed == [200, 200, 200]
    assert limited.status_code == 429
    assert limited.headers["Retry-After"] == "60"
    assert other_token.status_code == 200
    assert recovered.status_code == 200


def test_channel_rate_limit_per_client(make_simulator: Any, make_client: Any, clock: Any) -> None:
    client = make_client(make_simulator(channel_rate_limit=2))
    token = client.token()

    created = [client.call("POST", CHANNELS, token).status_code for _ in range(2)]
    clock.advance(20)
    limited = client.call("POST", CHANNELS, token)

    assert created == [200, 200]
    assert limited.status_code == 429
    assert limited.headers["Retry-After"] == "40"
