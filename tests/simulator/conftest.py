"""Fixtures for tests that run against the simulator over loopback sockets.

``simulator`` is a running ``Simulator`` on a ``WatchedClock``. ``client``
speaks to it over HTTP with ``requests`` and over WebSocket with
``websocket-client``, the way the service does.
"""

from __future__ import annotations

import base64
import struct
import threading
from collections.abc import Callable, Iterator
from typing import Any

import orjson
import pytest
import requests
import websocket

from genesys_stream.clock import FakeClock, Timer
from simulator import Simulator

# Seconds any single network wait in these tests may take.
WAIT = 5.0


class WatchedClock(FakeClock):
    """A FakeClock that lets a test wait until another thread has set a timer.

    The simulator sets some timers on its own threads (a delayed pong is set
    when the ping arrives); advancing before then would skip them.
    """

    def __init__(self) -> None:
        super().__init__()
        self._timers_set = 0
        self._timer_set = threading.Condition()

    def call_later(self, delay: float, callback: Callable[[], None]) -> Timer:
        timer = super().call_later(delay, callback)
        with self._timer_set:
            self._timers_set += 1
            self._timer_set.notify_all()
        return timer

    @property
    def timers_set(self) -> int:
        with self._timer_set:
            return self._timers_set

    def wait_timers_set(self, count: int, timeout: float = WAIT) -> bool:
        """Block until ``count`` timers have been set in total; False on timeout."""
        with self._timer_set:
            return self._timer_set.wait_for(lambda: self._timers_set >= count, timeout)


class Client:
    """A test client for one simulator: OAuth, channels, subscriptions, sockets."""

    def __init__(self, sim: Simulator) -> None:
        self.sim = sim
        self.http = requests.Session()
        self.sockets: list[websocket.WebSocket] = []

    def url(self, path: str) -> str:
        return self.sim.base_url + path

    def token(self, client_id: str | None = None, secret: str | None = None) -> str:
        response = self.request_token(client_id, secret)
        response.raise_for_status()
        access_token: str = response.json()["access_token"]
        return access_token

    def request_token(
        self, client_id: str | None = None, secret: str | None = None
    ) -> requests.Response:
        pair = f"{client_id or self.sim.client_id}:{secret or self.sim.client_secret}"
        return self.http.post(
            self.url("/oauth/token"),
            headers={"Authorization": "Basic " + base64.b64encode(pair.encode()).decode()},
            data={"grant_type": "client_credentials"},
            timeout=WAIT,
        )

    def call(
        self, method: str, path: str, token: str, json: Any = None, **params: str
    ) -> requests.Response:
        return self.http.request(
            method,
            self.url(path),
            headers={"Authorization": f"Bearer {token}"},
            json=json,
            params=params,
            timeout=WAIT,
        )

    def create_channel(self, token: str) -> dict[str, str]:
        response = self.call("POST", "/api/v2/notifications/channels", token)
        response.raise_for_status()
        channel: dict[str, str] = response.json()
        return channel

    def subscribe(
        self, token: str, channel_id: str, topics: list[str], method: str = "PUT", **params: str
    ) -> requests.Response:
        return self.call(
            method,
            f"/api/v2/notifications/channels/{channel_id}/subscriptions",
            token,
            json=[{"id": topic} for topic in topics],
            **params,
        )

    def head(self, token: str, channel_id: str) -> int:
        return self.call("HEAD", f"/api/v2/notifications/channels/{channel_id}", token).status_code

    def connect(self, connect_uri: str) -> websocket.WebSocket:
        ws = websocket.create_connection(connect_uri, timeout=WAIT)
        self.sockets.append(ws)
        return ws

    @staticmethod
    def next_frame(ws: websocket.WebSocket) -> dict[str, Any]:
        """Return the next text frame, decoded; fail the test after ``WAIT`` seconds."""
        frame: dict[str, Any] = orjson.loads(ws.recv())
        return frame

    @staticmethod
    def close_code(ws: websocket.WebSocket) -> int:
        """Read until the socket closes; return its close code, 1006 when no close frame came."""
        try:
            while True:
                opcode, frame = ws.recv_data_frame(True)
                if opcode == websocket.ABNF.OPCODE_CLOSE:
                    code: int = struct.unpack("!H", frame.data[:2])[0]
                    # websocket-client replies to the close frame but keeps the
                    # TCP connection open, and the server waits for the client
                    # to end it: end it here.
                    ws.shutdown()
                    return code
        except websocket.WebSocketConnectionClosedException:
            return 1006

    def close(self) -> None:
        for ws in self.sockets:
            ws.close(timeout=1)
        self.http.close()


@pytest.fixture
def clock() -> WatchedClock:
    return WatchedClock()


@pytest.fixture
def make_simulator(clock: WatchedClock) -> Iterator[Callable[..., Simulator]]:
    """Start simulators with custom settings on the test's clock; stop them after."""
    started: list[Simulator] = []

    def make(**settings: Any) -> Simulator:
        sim = Simulator(clock=clock, **settings)
        sim.start()
        started.append(sim)
        return sim

    yield make
    for sim in started:
        sim.stop()


@pytest.fixture
def simulator(make_simulator: Callable[..., Simulator]) -> Simulator:
    """A running simulator with the real limits, on a FakeClock."""
    return make_simulator()


@pytest.fixture
def make_client() -> Iterator[Callable[[Simulator], Client]]:
    """Make clients for simulators started with ``make_simulator``; close them after."""
    made: list[Client] = []

    def make(sim: Simulator) -> Client:
        made.append(Client(sim))
        return made[-1]

    yield make
    for test_client in made:
        test_client.close()


@pytest.fixture
def client(simulator: Simulator, make_client: Callable[[Simulator], Client]) -> Client:
    return make_client(simulator)
