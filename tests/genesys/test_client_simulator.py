"""The client against the simulated org over loopback sockets: each endpoint and retry rule."""

import itertools
import random
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from genesys.auth import AccessToken, OAuthClient, RefreshingTokenSource
from genesys.client import Channel, GenesysClient
from genesys.errors import (
    ApiError,
    AuthenticationError,
    NotFoundError,
    RateLimitedError,
    ServerError,
)
from genesys_stream.clock import FakeClock
from simulator import Simulator
from simulator.traffic import TrafficConfig, generate

CLIENT_ID = "sim-client"
CLIENT_SECRET = "sim-secret"
CHANNELS = "/api/v2/notifications/channels"
SUBSCRIPTIONS = "/api/v2/notifications/channels/*/subscriptions"
UNKNOWN_CONVERSATION = "00000000-0000-4000-8000-000000000000"


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def sim(clock: FakeClock) -> Iterator[Simulator]:
    scenario = generate(
        TrafficConfig(conversations=7, start=clock.time(), duration=60.0, queues=3, agents=5)
    )
    with Simulator(
        clock=clock, client_id=CLIENT_ID, client_secret=CLIENT_SECRET, token_ttl=86400
    ) as simulator:
        simulator.load(scenario)
        yield simulator


@pytest.fixture
def oauth(sim: Simulator, clock: FakeClock) -> Iterator[OAuthClient]:
    client = OAuthClient(sim.base_url, CLIENT_ID, CLIENT_SECRET, clock, timeout=5.0)
    yield client
    client.close()


@pytest.fixture
def tokens(oauth: OAuthClient, clock: FakeClock) -> RefreshingTokenSource:
    return RefreshingTokenSource(oauth, clock)


@pytest.fixture
def client(
    sim: Simulator, tokens: RefreshingTokenSource, clock: FakeClock
) -> Iterator[GenesysClient]:
    with GenesysClient(sim.base_url, tokens, clock, timeout=5.0, rng=random.Random(7)) as made:
        yield made


def requests_to(sim: Simulator, method: str, pattern: str) -> list[float]:
    """Return the clock times of the simulator's requests matching ``method`` and ``pattern``."""
    regex = re.compile(re.escape(pattern).replace(r"\*", "[^/]+") + r"(\?.*)?")
    return [
        record.at
        for record in sim.requests
        if record.method == method and regex.fullmatch(record.path)
    ]


# OAuth.


def test_oauth_good_credentials(oauth: OAuthClient, clock: FakeClock) -> None:
    token = oauth.request_token()

    assert token.value
    assert token.expires_in == 86400
    assert token.expires_at == clock.time() + 86400


def test_oauth_bad_secret_rejected(sim: Simulator, clock: FakeClock) -> None:
    oauth = OAuthClient(sim.base_url, CLIENT_ID, "wrong-secret", clock, timeout=5.0)

    with pytest.raises(AuthenticationError) as caught:
        oauth.request_token()

    assert caught.value.status == 401
    assert CLIENT_ID in str(caught.value)
    assert "wrong-secret" not in str(caught.value)
    assert len(requests_to(sim, "POST", "/oauth/token")) == 1


def test_oauth_unknown_client_rejected(sim: Simulator, clock: FakeClock) -> None:
    oauth = OAuthClient(sim.base_url, "other-client", CLIENT_SECRET, clock, timeout=5.0)

    with pytest.raises(AuthenticationError, match="other-client"):
        oauth.request_token()


def test_oauth_429_waits_retry_after(sim: Simulator, oauth: OAuthClient, clock: FakeClock) -> None:
    sim.faults.fail_next(method="POST", path="/oauth/token", count=1, status=429, retry_after=30)
    start = clock.time()

    token = oauth.request_token()

    times = requests_to(sim, "POST", "/oauth/token")
    assert len(times) == 2
    assert times[1] - times[0] >= 30
    assert token.obtained_at == start + 30


def test_oauth_503_retried(sim: Simulator, oauth: OAuthClient) -> None:
    sim.faults.fail_next(method="POST", path="/oauth/token", count=2, status=503)

    token = oauth.request_token()

    assert token.value
    assert len(requests_to(sim, "POST", "/oauth/token")) == 3


# Notification channels and subscriptions.


def test_create_channel(client: GenesysClient, clock: FakeClock) -> None:
    channel = client.create_channel()

    assert re.fullmatch(r"[A-Za-z0-9-]+", channel.id)
    assert channel.connect_uri.startswith("ws://127.0.0.1:")
    assert channel.expires.tzinfo is not None
    lifetime = channel.expires.timestamp() - clock.time()
    assert abs(lifetime - timedelta(hours=24).total_seconds()) < 1


def test_channel_repr_hides_connect_uri(client: GenesysClient) -> None:
    channel = client.create_channel()

    assert channel.connect_uri not in repr(channel)
    assert channel.id in repr(channel)


def test_channel_exists_true_then_false(client: GenesysClient) -> None:
    channel = client.create_channel()

    assert client.channel_exists(channel.id) is True
    assert client.channel_exists("streaming-0-doesnotexist") is False


def test_list_channels_of_token(client: GenesysClient) -> None:
    first = client.create_channel()
    second = client.create_channel()

    listed = {info.id for info in client.list_channels()}

    assert first.id in listed
    assert second.id in listed


def test_replace_then_get_subscriptions(client: GenesysClient, sim: Simulator) -> None:
    channel = client.create_channel()
    topics = [f"v2.routing.queues.{queue['id']}.conversations" for queue in client.list_queues()][
        :3
    ]

    replaced = client.replace_subscriptions(channel.id, topics)
    listed = client.get_subscriptions(channel.id)

    assert [result.topic for result in replaced] == topics
    assert all(result.state == "Permitted" for result in replaced)
    assert sorted(result.topic for result in listed) == sorted(topics)


def test_add_subscriptions_keeps_existing(client: GenesysClient) -> None:
    channel = client.create_channel()
    queue_ids = [queue["id"] for queue in itertools.islice(client.list_queues(), 2)]
    client.replace_subscriptions(channel.id, [f"v2.routing.queues.{queue_ids[0]}.conversations"])

    client.add_subscriptions(channel.id, [f"v2.routing.queues.{queue_ids[1]}.conversations"])

    listed = sorted(result.topic for result in client.get_subscriptions(channel.id))
    assert listed == sorted(f"v2.routing.queues.{qid}.conversations" for qid in queue_ids)


def test_add_subscriptions_reports_rejected(client: GenesysClient) -> None:
    channel = client.create_channel()

    results = client.add_subscriptions(channel.id, ["v2.not.a.real.topic"])

    assert [result.state for result in results] == ["Rejected"]
    assert results[0].rejected is True
    assert results[0].rejection_reason


def test_delete_subscriptions_empties_channel(client: GenesysClient) -> None:
    channel = client.create_channel()
    queue_id = next(client.list_queues())["id"]
    client.replace_subscriptions(channel.id, [f"v2.routing.queues.{queue_id}.conversations"])

    client.delete_subscriptions(channel.id)

    assert client.get_subscriptions(channel.id) == []


def test_subscriptions_of_unknown_channel(client: GenesysClient) -> None:
    with pytest.raises(NotFoundError):
        client.get_subscriptions("streaming-0-doesnotexist")


# Conversations, analytics, routing.


def test_get_conversation(client: GenesysClient, clock: FakeClock) -> None:
    start = clock.time()
    clock.advance(3600)
    records = list(client.query_conversation_details(_utc(start - 86400), _utc(clock.time())))
    conversation_id = records[0]["conversationId"]

    conversation = client.get_conversation(conversation_id)

    assert conversation["id"] == conversation_id
    assert "participants" in conversation


def test_get_unknown_conversation_not_retried(client: GenesysClient, sim: Simulator) -> None:
    with pytest.raises(NotFoundError) as caught:
        client.get_conversation(UNKNOWN_CONVERSATION)

    assert caught.value.status == 404
    assert len(requests_to(sim, "GET", "/api/v2/conversations/*")) == 1


def test_analytics_query_pages(client: GenesysClient, sim: Simulator, clock: FakeClock) -> None:
    clock.advance(3600)
    interval = (_utc(clock.time() - 7 * 86400), _utc(clock.time()))
    everything = list(client.query_conversation_details(*interval, page_size=100))

    paged = list(client.query_conversation_details(*interval, page_size=2))

    assert len(everything) >= 3
    assert [record["conversationId"] for record in paged] == [
        record["conversationId"] for record in everything
    ]
    pages = requests_to(sim, "POST", "/api/v2/analytics/conversations/details/query")
    assert len(pages) == 1 + len(everything) // 2 + 1


def test_list_queues_pages(client: GenesysClient, sim: Simulator) -> None:
    everything = list(client.list_queues(page_size=500))

    paged = list(client.list_queues(page_size=1))

    assert len(everything) >= 2
    assert [queue["id"] for queue in paged] == [queue["id"] for queue in everything]
    assert len(requests_to(sim, "GET", "/api/v2/routing/queues")) == 1 + len(everything)


def test_list_users_pages(client: GenesysClient, sim: Simulator) -> None:
    everything = list(client.list_users(page_size=500))

    paged = list(client.list_users(page_size=2))

    assert len(everything) >= 2
    assert [user["id"] for user in paged] == [user["id"] for user in everything]
    assert len(requests_to(sim, "GET", "/api/v2/users")) == 1 + -(-len(everything) // 2)


# Retry rules.


def test_429_waits_retry_after(client: GenesysClient, sim: Simulator) -> None:
    sim.faults.fail_next(method="POST", path=CHANNELS, count=1, status=429, retry_after=59)

    channel = client.create_channel()

    times = requests_to(sim, "POST", CHANNELS)
    assert isinstance(channel, Channel)
    assert len(times) == 2
    assert times[1] - times[0] >= 59


def test_429_on_subscriptions_waits(client: GenesysClient, sim: Simulator) -> None:
    channel = client.create_channel()
    queue_id = next(client.list_queues())["id"]
    sim.faults.fail_next(method="PUT", path=SUBSCRIPTIONS, count=1, status=429, retry_after=5)

    client.replace_subscriptions(channel.id, [f"v2.routing.queues.{queue_id}.conversations"])

    times = requests_to(sim, "PUT", SUBSCRIPTIONS)
    assert len(times) == 2
    assert times[1] - times[0] >= 5


def test_retry_after_above_limit_gives_up(client: GenesysClient, sim: Simulator) -> None:
    sim.faults.fail_next(method="POST", path=CHANNELS, count=1, status=429, retry_after=600)

    with pytest.raises(RateLimitedError) as caught:
        client.create_channel()

    assert caught.value.retry_after == 600
    assert "600" in str(caught.value)
    assert len(requests_to(sim, "POST", CHANNELS)) == 1


def test_429_every_attempt_gives_up(client: GenesysClient, sim: Simulator) -> None:
    sim.faults.fail_next(method="POST", path=CHANNELS, count=5, status=429, retry_after=1)

    with pytest.raises(RateLimitedError) as caught:
        client.create_channel()

    assert caught.value.attempts == 5
    assert len(requests_to(sim, "POST", CHANNELS)) == 5


def test_503_retried_with_jitter(client: GenesysClient, sim: Simulator) -> None:
    channel = client.create_channel()
    queue_id = next(client.list_queues())["id"]
    sim.faults.fail_next(method="PUT", path=SUBSCRIPTIONS, count=3, status=503)

    client.replace_subscriptions(channel.id, [f"v2.routing.queues.{queue_id}.conversations"])

    times = requests_to(sim, "PUT", SUBSCRIPTIONS)
    gaps = [later - earlier for earlier, later in itertools.pairwise(times)]
    assert len(times) == 4
    assert 0 <= gaps[0] <= 1
    assert 0 <= gaps[1] <= 2
    assert 0 <= gaps[2] <= 4
    assert len(set(gaps)) == 3


@pytest.mark.parametrize("status", [502, 504])
def test_gateway_errors_retried(client: GenesysClient, sim: Simulator, status: int) -> None:
    sim.faults.fail_next(method="GET", path="/api/v2/users", count=2, status=status)

    users = list(client.list_users())

    assert users
    assert len(requests_to(sim, "GET", "/api/v2/users")) == 3


def test_503_every_attempt_gives_up(client: GenesysClient, sim: Simulator) -> None:
    sim.faults.fail_next(method="GET", path="/api/v2/routing/queues", count=5, status=503)

    with pytest.raises(ServerError) as caught:
        list(client.list_queues())

    assert caught.value.status == 503
    assert caught.value.attempts == 5


def test_400_not_retried(client: GenesysClient, sim: Simulator) -> None:
    channel = client.create_channel()
    sim.faults.fail_next(method="PUT", path=SUBSCRIPTIONS, count=1, status=400)

    with pytest.raises(ApiError) as caught:
        client.replace_subscriptions(channel.id, ["v2.users.x.presence"])

    assert caught.value.status == 400
    assert len(requests_to(sim, "PUT", SUBSCRIPTIONS)) == 1


def test_404_head_not_retried(client: GenesysClient, sim: Simulator) -> None:
    client.channel_exists("streaming-0-doesnotexist")

    assert len(requests_to(sim, "HEAD", f"{CHANNELS}/*")) == 1


def test_500_not_retried(client: GenesysClient, sim: Simulator) -> None:
    sim.faults.fail_next(method="POST", path=CHANNELS, count=1, status=500)

    with pytest.raises(ServerError):
        client.create_channel()

    assert len(requests_to(sim, "POST", CHANNELS)) == 1


def test_rejected_token_error_hides_token(sim: Simulator, clock: FakeClock) -> None:
    class WrongToken:
        def current(self) -> AccessToken:
            return AccessToken("not-a-token-the-sim-issued", "bearer", 600.0, clock.time())

    client = GenesysClient(sim.base_url, WrongToken(), clock, timeout=5.0)

    with pytest.raises(ApiError) as caught:
        client.create_channel()

    assert caught.value.status == 401
    assert "not-a-token-the-sim-issued" not in str(caught.value)


def _utc(timestamp: float) -> datetime:
    return datetime.fromtimestamp(timestamp, UTC)
