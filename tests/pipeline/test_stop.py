"""Graceful stop: everything accepted is flushed, in process and as a real `genesys-stream run`."""

import os
import queue
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import IO, Any

import orjson

from genesys_stream.cli import check_health
from genesys_stream.clock import FakeClock
from simulator import Simulator
from simulator.traffic import TrafficConfig, generate
from stores.local import read_events
from tests.pipeline.harness import local_stores, running_pipeline

EMPTY_BACKLOG = {"states": 0, "messages": 0, "spilled": 0}
# Real seconds: ECS waits 30 s by default between SIGTERM and SIGKILL.
STOP_TIMEOUT = 30.0
# Real seconds the subprocess may take to start and subscribe.
START_TIMEOUT = 60.0
PROJECT = Path(__file__).resolve().parents[2]


def test_stop_during_burst_flushes(simulator: Simulator, clock: FakeClock, tmp_path: Path) -> None:
    """Stopping with frames in flight stores and forwards every change it accepted."""
    scenario = generate(
        TrafficConfig(conversations=300, start=clock.time() + 1, duration=20, seed=3)
    )
    stores = local_stores(tmp_path, clock)
    topics = tuple(scenario.truth.queue_topics())

    with running_pipeline(simulator, clock, stores, topics) as pipeline:
        simulator.load(scenario)
        pipeline.run_for(10.0)
        # Frames of the next 5 s are still in sockets and inboxes when the stop begins.
        clock.advance(5.0)
        backlog = pipeline.service.stop(timeout=STOP_TIMEOUT)
        totals = pipeline.totals()

    events = read_events(tmp_path / "events.jsonl")
    forwarded_ids = {event["conversationId"] for event in events}
    stored_ids = {record.conversation_id for record in stores.states.list(limit=10_000)}
    assert backlog == EMPTY_BACKLOG
    assert totals["EventsAccepted"] > 0
    assert totals["EventsForwarded"] == totals["EventsAccepted"]
    assert len(events) == totals["EventsForwarded"]
    assert stored_ids == forwarded_ids


def read_lines(stream: IO[str], lines: "queue.Queue[str | None]") -> None:
    for line in stream:
        lines.put(line)
    lines.put(None)


def wait_for_event(lines: "queue.Queue[str | None]", event: str, timeout: float) -> dict[str, Any]:
    """Return the first JSON log line whose event is ``event``, reading for up to ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise AssertionError(f"No {event!r} log line within {timeout:g} s.")
        try:
            line = lines.get(timeout=remaining)
        except queue.Empty:
            continue
        if line is None:
            raise AssertionError(f"The process ended before logging {event!r}.")
        try:
            record: dict[str, Any] = orjson.loads(line)
        except orjson.JSONDecodeError:
            continue
        if record.get("event") == event:
            return record


def wait_until_healthy(lines: "queue.Queue[str | None]", health_file: Path, timeout: float) -> str:
    """Check the health file after each log line (or 0.1 s of none); return the last verdict."""
    deadline = time.monotonic() + timeout
    verdict = "not-ready"
    while time.monotonic() < deadline:
        verdict, _ = check_health(health_file, time.time())
        if verdict == "healthy":
            break
        try:
            if lines.get(timeout=0.1) is None:
                break
        except queue.Empty:
            pass
    return verdict


def test_sigterm_exits_cleanly(tmp_path: Path) -> None:
    """`genesys-stream run` on the simulator: ready, then SIGTERM, exit 0 with nothing left."""
    health_file = tmp_path / "health.json"
    environment = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("GENESYS_", "STREAM_", "AWS_"))
    }
    environment |= {
        "STREAM_LOCAL_DIR": str(tmp_path / "store"),
        "STREAM_HEALTH_FILE": str(health_file),
        "STREAM_LOG_LEVEL": "INFO",
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "genesys_stream.cli", "run"],
        cwd=PROJECT,
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines: queue.Queue[str | None] = queue.Queue()
    assert process.stdout is not None
    reader = threading.Thread(target=read_lines, args=(process.stdout, lines), daemon=True)
    reader.start()
    try:
        wait_for_event(lines, "channel.subscribed", START_TIMEOUT)
        verdict = wait_until_healthy(lines, health_file, START_TIMEOUT)

        process.send_signal(signal.SIGTERM)
        code = process.wait(timeout=STOP_TIMEOUT)
        stopped = wait_for_event(lines, "service.stopped", STOP_TIMEOUT)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=STOP_TIMEOUT)

    assert verdict == "healthy"
    assert code == 0
    assert stopped["backlog"] == EMPTY_BACKLOG
