"""Client arguments rejected before any request: these clients point at a closed port."""

import re
from datetime import UTC, datetime, timedelta, timezone

import pytest

from genesys.client import GenesysClient, _interval
from genesys.errors import ConfigurationError, InvalidArgumentError
from genesys_stream.clock import FakeClock
from tests.genesys.helpers import FixedToken, closed_port_url


@pytest.fixture
def client() -> GenesysClient:
    return GenesysClient(closed_port_url(), FixedToken(), FakeClock(), timeout=1.0)


def test_for_region_uses_region_api_url() -> None:
    client = GenesysClient.for_region("eu-west-1", FixedToken(), FakeClock())

    assert client.api_url == "https://api.mypurecloud.ie"


def test_for_region_accepts_override() -> None:
    client = GenesysClient.for_region(
        "mypurecloud.ie", FixedToken(), FakeClock(), api_url="http://127.0.0.1:8080/"
    )

    assert client.api_url == "http://127.0.0.1:8080"


def test_for_region_unknown_region() -> None:
    with pytest.raises(ConfigurationError, match="moon-1"):
        GenesysClient.for_region("moon-1", FixedToken(), FakeClock())


def test_conversation_id_checked(client: GenesysClient) -> None:
    with pytest.raises(InvalidArgumentError, match=re.escape("'../users'")):
        client.get_conversation("../users")


@pytest.mark.parametrize(
    "call",
    [
        lambda client: client.channel_exists("a/b"),
        lambda client: client.get_subscriptions("a?b"),
        lambda client: client.replace_subscriptions("a b", []),
        lambda client: client.add_subscriptions("", []),
        lambda client: client.delete_subscriptions("x/../y"),
    ],
)
def test_channel_id_checked(client: GenesysClient, call: object) -> None:
    with pytest.raises(InvalidArgumentError, match="channel id"):
        call(client)  # type: ignore[operator]


def test_too_many_topics_rejected(client: GenesysClient) -> None:
    topics = [f"v2.users.user{number}.presence" for number in range(1001)]

    with pytest.raises(InvalidArgumentError, match="1001 topics"):
        client.replace_subscriptions("streaming-1-abc", topics)


def test_single_string_topic_rejected(client: GenesysClient) -> None:
    with pytest.raises(InvalidArgumentError, match="single string"):
        client.add_subscriptions("streaming-1-abc", "v2.users.u1.presence")


def test_empty_topic_rejected(client: GenesysClient) -> None:
    with pytest.raises(InvalidArgumentError, match="topic"):
        client.add_subscriptions("streaming-1-abc", ["v2.users.u1.presence", " "])


def test_naive_interval_rejected(client: GenesysClient) -> None:
    with pytest.raises(InvalidArgumentError, match="timezone-aware"):
        client.query_conversation_details(datetime(2026, 1, 1), datetime(2026, 1, 2))


def test_reversed_interval_rejected(client: GenesysClient) -> None:
    end = datetime(2026, 1, 1, tzinfo=UTC)

    with pytest.raises(InvalidArgumentError, match="before its end"):
        client.query_conversation_details(end, end - timedelta(hours=1))


@pytest.mark.parametrize("page_size", [0, 101])
def test_details_page_size_checked(client: GenesysClient, page_size: int) -> None:
    start = datetime(2026, 1, 1, tzinfo=UTC)

    with pytest.raises(InvalidArgumentError, match="page size"):
        client.query_conversation_details(start, start + timedelta(hours=1), page_size)


def test_list_page_size_checked(client: GenesysClient) -> None:
    with pytest.raises(InvalidArgumentError, match="page size"):
        client.list_queues(page_size=501)


def test_interval_in_utc_with_milliseconds() -> None:
    start = datetime(2026, 1, 1, 0, 0, 0, 250000, tzinfo=UTC)
    end_in_paris = datetime(2026, 1, 1, 2, 0, tzinfo=timezone(timedelta(hours=1)))

    assert _interval(start, start + timedelta(hours=1)) == (
        "2026-01-01T00:00:00.250Z/2026-01-01T01:00:00.250Z"
    )
    assert _interval(start, end_in_paris).endswith("/2026-01-01T01:00:00.000Z")
