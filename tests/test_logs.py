"""Log lines: JSON objects, and no secret in any of them."""

import io
import logging
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest

from genesys_stream import logs
from genesys_stream.clock import FakeClock
from simulator import Simulator
from simulator.traffic import TrafficConfig, generate
from tests.pipeline.harness import local_stores, running_pipeline


@pytest.fixture
def captured() -> Iterator[io.StringIO]:
    stream = io.StringIO()
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    logs.configure("DEBUG", stream=stream)
    yield stream
    root.handlers[:] = handlers
    root.setLevel(level)


def test_formatter_writes_fields_as_json() -> None:
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "channel.connected", (), None)
    record.attempt = 2

    line = orjson.loads(logs.JsonFormatter().format(record))

    assert line["event"] == "channel.connected"
    assert line["attempt"] == 2
    assert line["level"] == "INFO"


def test_formatter_hides_secret_fields() -> None:
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "event", (), None)
    record.client_secret = "hunter2"
    record.channel_id = "streaming-2-abcdef"

    text = logs.JsonFormatter().format(record)

    assert "hunter2" not in text
    assert "streaming-2-abcdef" not in text
    assert logs.channel_fingerprint("streaming-2-abcdef") in text


def test_run_logs_no_secret(captured: io.StringIO, tmp_path: Path) -> None:
    """A run with reconnects and rotations logs no secret, token, channel id or URI."""
    clock = FakeClock()
    secret = "s3cr3t-value-for-the-log-test"
    with Simulator(clock=clock, client_secret=secret, token_ttl=900) as sim:
        scenario = generate(TrafficConfig(conversations=10, start=clock.time() + 5, seed=3))
        stores = local_stores(tmp_path, clock)
        with running_pipeline(sim, clock, stores, tuple(scenario.truth.queue_topics())) as pipeline:
            sim.load(scenario)
            channels = dict(sim.channels)
            for fault in (sim.faults.drop_sockets, sim.faults.send_socket_closing, None):
                pipeline.run_for(60, step=5)
                if fault is not None:
                    fault()
                pipeline.run_for(60, step=5)
                channels.update(sim.channels)
            pipeline.run_for(900, step=20)
            channels.update(sim.channels)
            ws_url = sim.ws_url

    # The simulator and its WebSocket server play Genesys Cloud: their own lines
    # name channels the way the real service's access logs would.
    lines = [
        line
        for line in captured.getvalue().splitlines()
        if not orjson.loads(line)["logger"].startswith(("simulator", "websockets"))
    ]
    output = "\n".join(lines)
    secrets = [secret]
    for channel_id, channel in channels.items():
        secrets += [channel_id, channel.token, f"{ws_url}/channels/{channel_id}"]

    assert len(lines) > 20
    assert len(channels) >= 2
    for line in lines:
        assert isinstance(orjson.loads(line), dict)
    for value in secrets:
        assert value not in output
