"""Transport failures over loopback: refused, dropped and silent connections."""

import pytest
import requests

from genesys.client import GenesysClient
from genesys.errors import TransportError
from genesys.retry import RetryPolicy
from genesys_stream.clock import FakeClock
from tests.genesys.helpers import FixedToken, closed_port_url
from tests.genesys.silent_server import SilentServer


def test_connection_refused_is_transport_error() -> None:
    clock = FakeClock()
    client = GenesysClient(closed_port_url(), FixedToken(), clock, timeout=2.0)

    with pytest.raises(TransportError) as caught:
        client.create_channel()

    assert caught.value.attempts == RetryPolicy().max_attempts
    assert isinstance(caught.value.__cause__, requests.ConnectionError)
    assert clock.monotonic() > 0
    assert "fixed-token-value" not in str(caught.value)


def test_dropped_post_not_repeated() -> None:
    clock = FakeClock()

    with SilentServer(hang_up=True) as server:
        client = GenesysClient(server.url, FixedToken(), clock, timeout=5.0)
        with pytest.raises(TransportError) as caught:
            client.create_channel()

    assert server.connections == 1
    assert caught.value.attempts == 1
    assert "not safe to repeat" in str(caught.value)
    assert "fixed-token-value" not in str(caught.value)


def test_dropped_get_repeated() -> None:
    clock = FakeClock()

    with SilentServer(hang_up=True) as server:
        client = GenesysClient(server.url, FixedToken(), clock, timeout=5.0)
        with pytest.raises(TransportError) as caught:
            client.channel_exists("streaming-2-abc")

    assert server.connections == 5
    assert caught.value.attempts == 5


def test_read_timeout_is_transport_error() -> None:
    clock = FakeClock()

    with SilentServer(hang_up=False) as server:
        client = GenesysClient(server.url, FixedToken(), clock, timeout=(2.0, 0.2))
        with pytest.raises(TransportError, match="read timeout") as caught:
            client.create_channel()

    assert isinstance(caught.value.__cause__, requests.ReadTimeout)
    assert server.connections == 1
