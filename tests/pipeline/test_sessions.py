"""WebSocket sessions under the faults Genesys Cloud produces, end to end on loopback.

Each test runs the whole service against the simulator on one FakeClock,
injects a fault, and checks what the service did through the simulator's
records (requests, channels, sockets) and the store.
"""

from __future__ import annotations

import io
import itertools
import logging
from collections import Counter
from dataclasses import replace
from pathlib import Path
from typing import Any

import orjson
import pytest

from genesys_stream.clock import FakeClock
from genesys_stream.logs import JsonFormatter
from genesys_stream.verify import stored_view, truth_view
from simulator import Simulator
from simulator.conversations import Behaviour
from simulator.traffic import Scenario, TrafficConfig, generate
from stores.local import read_events
from tests.pipeline.harness import Pipeline, local_stores, running_pipeline

CHANNELS = "/api/v2/notifications/channels"
SUBSCRIPTIONS = CHANNELS + "/*/subscriptions"
# A queue no conversation uses: a channel with it carries heartbeats and pongs only.
# Liveness settings for long runs in big steps, where only rotation is under test.
PATIENT = {"heartbeat_silence": 600.0, "pong_timeout": 600.0}
QUIET = ("v2.routing.queues.00000000-0000-4000-8000-000000000000.conversations",)


def traffic(clock: FakeClock, conversations: int = 15, duration: float = 90.0) -> Scenario:
    return generate(
        TrafficConfig(
            conversations=conversations,
            start=clock.time() + 5,
            duration=duration,
            seed=7,
            duplicate_rate=0.2,
        )
    )


def until_last_emission(scenario: Scenario, clock: FakeClock) -> float:
    """Return the seconds from now until 10 s after the scenario's last emission."""
    return scenario.emissions[-1].at - clock.time() + 10


def live_channels(simulator: Simulator) -> list[str]:
    return [state.id for state in simulator.channels.values() if state.connected]


def sockets_per_channel(simulator: Simulator) -> int:
    return max((state.connected for state in simulator.channels.values()), default=0)


def lifecycle_counts(path: Path, event_type: str) -> Counter[str]:
    return Counter(
        event["conversationId"] for event in read_events(path) if event["type"] == event_type
    )


def backfilled_gaps(pipeline: Pipeline) -> int:
    assert pipeline.service.backfill is not None
    stats: dict[str, Any] = pipeline.service.backfill.ask("stats", timeout=10.0)
    return int(stats["gaps"])


def test_socket_closing_switches_before_close(
    simulator: Simulator, clock: FakeClock, tmp_path: Path
) -> None:
    """The server warns with socket_closing, sends events for 55 s more, then closes with 1000."""
    scenario = traffic(clock)
    topics = tuple(scenario.truth.queue_topics())

    with running_pipeline(simulator, clock, local_stores(tmp_path, clock), topics) as pipeline:
        simulator.load(scenario)
        pipeline.run_for(30)
        [old] = live_channels(simulator)
        simulator.faults.send_socket_closing(close_after=55)
        pipeline.wait_for(lambda: live_channels(simulator) not in ([], [old]))
        replacement = [channel for channel in live_channels(simulator) if channel != old]
        new_topics = simulator.channels[replacement[0]].topics if replacement else ()
        old_sockets = simulator.channels[old].connected
        pipeline.run_for(until_last_emission(scenario, clock))
        comparison = pipeline.compare(scenario)
        totals = pipeline.totals()
        gaps = backfilled_gaps(pipeline)

    assert len(replacement) == 1
    assert sorted(new_topics) == sorted(topics)
    assert old_sockets == 0
    assert comparison.missing == []
    assert comparison.differing == []
    assert totals["ChannelRotations"] == 1
    assert totals.get("Gaps", 0) == 0
    assert gaps == 0
    started = lifecycle_counts(tmp_path / "events.jsonl", "conversation.started")
    ended = lifecycle_counts(tmp_path / "events.jsonl", "conversation.ended")
    assert set(started.values()) == {1}
    assert set(ended.values()) == {1}


def test_socket_closing_without_close(
    simulator: Simulator, clock: FakeClock, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The server warns with socket_closing, again during the switch, and never closes."""
    caplog.set_level(logging.INFO, logger="actors.connection")
    scenario = traffic(clock, conversations=8, duration=60)
    topics = tuple(scenario.truth.queue_topics())
    max_sockets = 0

    with running_pipeline(simulator, clock, local_stores(tmp_path, clock), topics) as pipeline:
        simulator.load(scenario)
        pipeline.run_for(20)
        [old] = live_channels(simulator)
        # The first subscriptions call fails, so the switch is still under way
        # when the second warning arrives.
        simulator.faults.fail_next("PUT", SUBSCRIPTIONS, status=503)
        simulator.faults.send_socket_closing()
        pipeline.wait_for(lambda: simulator.faults.counts.get("fail_next", 0) == 1)
        simulator.faults.send_socket_closing(old)
        pipeline.wait_for(
            lambda: any(r.msg == "channel.rotate_skipped" for r in caplog.records), timeout=5.0
        )
        for _ in range(int(until_last_emission(scenario, clock))):
            pipeline.step(1)
            max_sockets = max(max_sockets, sockets_per_channel(simulator))
        comparison = pipeline.compare(scenario)
        totals = pipeline.totals()
        created = pipeline.requests("POST", CHANNELS)
        old_sockets = simulator.channels[old].connected

    assert max_sockets == 1
    assert old_sockets == 0
    assert totals["ChannelRotations"] == 1
    assert len(created) == 2
    assert totals.get("Gaps", 0) == 0
    assert comparison.all_match


def abandoned_call(clock: FakeClock) -> tuple[Scenario, str, float]:
    """Return one call that the customer abandons in queue, and when its end is emitted.

    Every frame about the end is emitted at the same moment, so an outage
    that starts just before it covers all of them.
    """
    scenario = generate(
        TrafficConfig(
            conversations=1,
            start=clock.time() + 5,
            duration=0,
            seed=3,
            media_mix={"voice": 1.0},
            behaviour=Behaviour(ivr=0.0, abandon=1.0),
        )
    )
    [conversation_id] = scenario.truth.conversation_ids()
    end = scenario.truth.end_time(conversation_id)
    end_emitted = end + 0.3
    emissions = [
        replace(emission, at=end_emitted) if emission.at >= end else emission
        for emission in scenario.emissions
    ]
    return Scenario(emissions, scenario.truth), conversation_id, end_emitted


@pytest.mark.parametrize("fault", ["close 1001", "drop"])
def test_close_during_call_end(
    simulator: Simulator, clock: FakeClock, tmp_path: Path, fault: str
) -> None:
    """The socket closes (1001) or drops (1006) just before the call's end is emitted."""
    scenario, conversation_id, end_emitted = abandoned_call(clock)
    topics = tuple(scenario.truth.queue_topics())
    stores = local_stores(tmp_path, clock)

    with running_pipeline(simulator, clock, stores, topics) as pipeline:
        simulator.load(scenario)
        pipeline.run_for(end_emitted - 0.05 - clock.time())
        [channel] = live_channels(simulator)
        if fault == "drop":
            simulator.faults.drop_sockets()
        else:
            simulator.faults.close_sockets(1001)
        lost = pipeline.wait_for(lambda: pipeline.totals().get("Reconnects", 0) >= 1)
        pipeline.step(0.1)
        pipeline.run_for(5)
        reconnected = live_channels(simulator)
        pipeline.run_for(10)
        stored = stored_view(stores.states, conversation_id)
        truth = truth_view(scenario.truth, conversation_id)
        totals = pipeline.totals()
        gaps = backfilled_gaps(pipeline)
        created = pipeline.requests("POST", CHANNELS)

    assert lost
    assert reconnected == [channel]
    assert len(created) == 1
    assert totals["Gaps"] == 1
    assert gaps == 1
    assert stored is not None
    assert stored["state"] == "ended"
    assert stored["endTime"] == truth["endTime"]


def test_silent_socket_declared_dead(
    simulator: Simulator, clock: FakeClock, tmp_path: Path
) -> None:
    """Heartbeats stop and pings go unanswered while the TCP connection stays open."""
    with running_pipeline(simulator, clock, local_stores(tmp_path, clock), QUIET) as pipeline:
        pipeline.run_for(31)
        [channel] = live_channels(simulator)
        last_heartbeat = 30.0
        simulator.faults.stop_heartbeats()
        simulator.faults.drop_pongs()
        pipeline.run_for(40)
        reconnects_at_70s = pipeline.totals().get("Reconnects", 0)
        pipeline.run_for(20)
        heads = pipeline.requests("HEAD", f"{CHANNELS}/{channel}")
        pings = simulator.faults.counts.get("drop_pongs", 0)
        simulator.faults.resume_heartbeats()
        simulator.faults.drop_pongs(False)
        pipeline.run_for(5)
        reconnected = live_channels(simulator)

    assert pings >= 1
    assert reconnects_at_70s == 0
    assert len(heads) == 1
    assert 45.0 <= heads[0].at - last_heartbeat <= 60.0
    assert reconnected == [channel]


def test_slow_pong_is_not_dead(simulator: Simulator, clock: FakeClock, tmp_path: Path) -> None:
    """Pongs arrive 1.5 s after each ping, on a socket with normal heartbeats."""
    stores = local_stores(tmp_path, clock)
    # Ping after 20 s of silence, so pings go out between the 30 s heartbeats.
    with running_pipeline(simulator, clock, stores, QUIET, heartbeat_silence=20.0) as pipeline:
        simulator.faults.delay_pongs(1.5)
        pipeline.run_for(300, step=0.5)
        slow_pongs = simulator.faults.counts.get("delay_pongs", 0)
        totals = pipeline.totals()
        created = pipeline.requests("POST", CHANNELS)
        health = pipeline.service.health()

    assert slow_pongs >= 5
    assert totals.get("Reconnects", 0) == 0
    assert len(created) == 1
    assert health["ready"] is True


@pytest.mark.parametrize("fault", ["404 frame", "evicted", "gone after close"])
def test_channel_gone_gets_new_channel(
    simulator: Simulator, clock: FakeClock, tmp_path: Path, fault: str
) -> None:
    """The channel is gone: a 404 frame, an eviction, or a close after which HEAD returns 404."""
    scenario = traffic(clock, conversations=10, duration=60)
    topics = tuple(scenario.truth.queue_topics())

    with running_pipeline(simulator, clock, local_stores(tmp_path, clock), topics) as pipeline:
        simulator.load(scenario)
        pipeline.run_for(30)
        [old] = live_channels(simulator)
        if fault == "404 frame":
            simulator.faults.send_404()
        elif fault == "evicted":
            simulator.faults.evict_channel(old)
        else:
            simulator.faults.close_sockets(1001)
            pipeline.wait_for(lambda: pipeline.totals().get("Reconnects", 0) >= 1)
            simulator.faults.evict_channel(old)
        pipeline.run_for(5)
        [new] = live_channels(simulator)
        new_topics = simulator.channels[new].topics
        pipeline.run_for(until_last_emission(scenario, clock) + 300, step=2)
        created = pipeline.requests("POST", CHANNELS)
        totals = pipeline.totals()
        gaps = backfilled_gaps(pipeline)
        comparison = pipeline.compare(scenario)

    assert new != old
    assert sorted(new_topics) == sorted(topics)
    assert len(created) == 2
    assert totals["Gaps"] == 1
    assert gaps == 1
    assert comparison.all_match


def test_channel_rotates_before_expiry(clock: FakeClock, tmp_path: Path) -> None:
    """A channel reaches the end of its 24-hour life while its token stays valid."""
    two_days = 172_800.0
    with Simulator(clock=clock, token_ttl=two_days) as simulator:
        topics = tuple(traffic(clock).truth.queue_topics())
        stores = local_stores(tmp_path, clock)
        # A day in 10 s steps: under CPU load the readers may lag a step or two
        # behind the clock, which must not look like a silent socket.
        with running_pipeline(simulator, clock, stores, topics, **PATIENT) as pipeline:
            [first] = live_channels(simulator)
            expires = simulator.channels[first].expires
            pipeline.run_for(expires - clock.time() - 1200, step=10)
            scenario = traffic(clock, conversations=10, duration=900)
            simulator.load(scenario)
            pipeline.run_for(expires - clock.time() - 1)
            live_before_expiry = live_channels(simulator)
            rotations_before_expiry = pipeline.totals().get("ChannelRotations", 0)
            pipeline.run_for(until_last_emission(scenario, clock))
            totals = pipeline.totals()
            created = pipeline.requests("POST", CHANNELS)
            comparison = pipeline.compare(scenario)

    assert rotations_before_expiry == 1
    assert len(live_before_expiry) == 1
    assert live_before_expiry != [first]
    assert len(created) == 2
    assert totals.get("Gaps", 0) == 0
    assert comparison.all_match


def test_new_token_moves_to_new_channel(clock: FakeClock, tmp_path: Path) -> None:
    """Tokens last one hour, so each channel dies with the token that created it."""
    with Simulator(clock=clock, token_ttl=3600) as simulator:
        scenario = traffic(clock, conversations=20, duration=3600)
        topics = tuple(scenario.truth.queue_topics())
        stores = local_stores(tmp_path, clock)
        with running_pipeline(simulator, clock, stores, topics, **PATIENT) as pipeline:
            simulator.load(scenario)
            [first] = live_channels(simulator)
            pipeline.run_for(until_last_emission(scenario, clock), step=5)
            created = pipeline.requests("POST", CHANNELS)
            totals = pipeline.totals()
            comparison = pipeline.compare(scenario)
            live = live_channels(simulator)

    assert first not in live
    assert len(created) == 2
    assert totals["ChannelRotations"] == 1
    assert totals.get("Gaps", 0) == 0
    assert comparison.all_match


def test_subscription_failures_retried(
    simulator: Simulator, clock: FakeClock, tmp_path: Path
) -> None:
    """The socket opens, then the subscriptions call returns 503 three times, then 200."""
    scenario = traffic(clock, conversations=8, duration=60)
    topics = tuple(scenario.truth.queue_topics())
    simulator.faults.fail_next("PUT", SUBSCRIPTIONS, count=3, status=503)
    max_sockets = 0
    ready: list[tuple[float, bool]] = []

    with running_pipeline(simulator, clock, local_stores(tmp_path, clock), topics) as pipeline:
        simulator.load(scenario)
        for _ in range(30):
            max_sockets = max(max_sockets, sockets_per_channel(simulator))
            ready.append((clock.monotonic(), pipeline.service.health()["ready"]))
            pipeline.step(0.5)
        pipeline.run_for(until_last_emission(scenario, clock))
        puts = [r for r in simulator.requests if r.method == "PUT"]
        created = pipeline.requests("POST", CHANNELS)
        comparison = pipeline.compare(scenario)

    assert [put.status for put in puts] == [503, 503, 503, 200]
    waits = [later.at - earlier.at for earlier, later in itertools.pairwise(puts)]
    # Full jitter: each wait is drawn from 0 to a ceiling that doubles, 1 s first.
    assert all(0 <= wait <= 2**attempt for attempt, wait in enumerate(waits))
    assert len(created) == 1
    assert max_sockets == 1
    assert ready[0][1] is False
    assert not any(is_ready for at, is_ready in ready if at < puts[-1].at)
    assert all(is_ready for at, is_ready in ready if at > puts[-1].at)
    assert comparison.all_match


def test_rate_limits_honoured(simulator: Simulator, clock: FakeClock, tmp_path: Path) -> None:
    """POST /channels returns 429 with Retry-After 59; later the subscriptions call, 5."""
    scenario = traffic(clock, conversations=15, duration=240)
    topics = tuple(scenario.truth.queue_topics())
    simulator.faults.fail_next("POST", CHANNELS, status=429, retry_after=59)
    max_sockets = 0

    with running_pipeline(simulator, clock, local_stores(tmp_path, clock), topics) as pipeline:
        # The actor waits on a timer; it never sleeps the shared clock away.
        clock_after_start = clock.monotonic()
        pipeline.run_for(58)
        created_by_58s = len(pipeline.requests("POST", CHANNELS))
        pipeline.run_for(2)
        simulator.load(scenario)
        pipeline.run_for(60)
        simulator.faults.fail_next("PUT", SUBSCRIPTIONS, status=429, retry_after=5)
        simulator.faults.send_socket_closing()
        pipeline.wait_for(lambda: simulator.faults.counts.get("fail_next", 0) >= 2)
        events_before = pipeline.totals().get("EventsIn", 0)
        for _ in range(10):
            pipeline.step(0.5)
            max_sockets = max(max_sockets, sockets_per_channel(simulator))
        events_while_waiting = pipeline.totals().get("EventsIn", 0) - events_before
        pipeline.run_for(until_last_emission(scenario, clock))
        created = pipeline.requests("POST", CHANNELS)
        puts = [r for r in simulator.requests if r.method == "PUT"]
        totals = pipeline.totals()
        comparison = pipeline.compare(scenario)

    assert clock_after_start < 1
    assert created_by_58s == 1
    assert [r.status for r in created] == [429, 200, 200]
    assert created[1].at - created[0].at >= 59
    assert [put.status for put in puts] == [200, 429, 200]
    assert puts[2].at - puts[1].at >= 5
    assert max_sockets == 1
    assert events_while_waiting > 0
    assert totals["ChannelRotations"] == 1
    assert comparison.all_match


def test_backoff_resets_after_stable_session(
    simulator: Simulator, clock: FakeClock, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The socket drops twice within a minute, then again after a stable minute."""
    caplog.set_level(logging.INFO, logger="actors.connection")

    def drop() -> None:
        drops = simulator.faults.counts.get("drop_sockets", 0)
        simulator.faults.drop_sockets()
        pipeline.wait_for(lambda: simulator.faults.counts.get("drop_sockets", 0) > drops)
        pipeline.wait_for(lambda: len(lost_attempts()) > drops)
        pipeline.run_for(5)

    def lost_attempts() -> list[int]:
        return [r.__dict__["attempt"] for r in caplog.records if r.msg == "connection.lost"]

    with running_pipeline(simulator, clock, local_stores(tmp_path, clock), QUIET) as pipeline:
        pipeline.run_for(5)
        drop()
        drop()
        pipeline.run_for(61)
        drop()
        live = live_channels(simulator)

    assert lost_attempts() == [1, 2, 1]
    assert len(live) == 1


def test_rejected_topic_reported_once(clock: FakeClock, tmp_path: Path) -> None:
    """One topic is rejected for a missing permission, on every channel the service makes."""
    forbidden = "v2.routing.queues.11111111-1111-4111-8111-111111111111.conversations"
    records: list[logging.LogRecord] = []
    handler = logging.Handler()
    handler.emit = records.append  # type: ignore[method-assign]
    logger = logging.getLogger("actors.connection")
    logger.addHandler(handler)
    try:
        with Simulator(clock=clock, rejected_topics={forbidden}) as simulator:
            stores = local_stores(tmp_path, clock)
            topics = (*QUIET, forbidden)
            with running_pipeline(simulator, clock, stores, topics) as pipeline:
                simulator.faults.send_socket_closing()
                pipeline.wait_for(lambda: pipeline.totals().get("ChannelRotations", 0) >= 1)
                pipeline.run_for(5)
                totals = pipeline.totals()
                health = pipeline.service.health()
                created = pipeline.requests("POST", CHANNELS)
    finally:
        logger.removeHandler(handler)

    rejected = [r for r in records if r.msg == "topic.rejected"]
    assert len(created) == 2
    assert totals["RejectedTopics"] == 1
    assert len(rejected) == 1
    assert rejected[0].__dict__["topic"] == forbidden
    assert "permission" in rejected[0].__dict__["reason"]
    assert health["ready"] is True
    assert health["channels"]["channel-0"]["rejected_topics"] == 1


def test_logs_hold_no_secret(simulator: Simulator, clock: FakeClock, tmp_path: Path) -> None:
    """Every log line of a run with a drop, a warning and a 404 leaves out connectUri and token."""
    output = io.StringIO()
    handler = logging.StreamHandler(output)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        stores = local_stores(tmp_path, clock)
        with running_pipeline(simulator, clock, stores, QUIET) as pipeline:
            token = pipeline.service.holder.current().value
            simulator.faults.drop_sockets()
            pipeline.run_for(5)
            simulator.faults.send_socket_closing()
            pipeline.run_for(5)
            simulator.faults.send_404()
            pipeline.run_for(5)
            channel_ids = list(simulator.channels)
    finally:
        root.removeHandler(handler)
        root.setLevel(level)

    lines = [orjson.loads(line) for line in output.getvalue().splitlines()]
    text = output.getvalue()
    assert len(channel_ids) == 3
    assert any(line["event"] == "channel.connected" for line in lines)
    assert any(line["event"] == "connection.lost" for line in lines)
    assert any(line["event"] == "channel.rotated" for line in lines)
    assert any(line["event"] == "gap.recorded" for line in lines)
    assert f"{simulator.ws_url}/channels/" not in text
    assert token not in text
    assert simulator.client_secret not in text


def test_drop_during_switch(simulator: Simulator, clock: FakeClock, tmp_path: Path) -> None:
    """The warned socket drops while the replacement waits out a 429 on its subscriptions."""
    scenario = traffic(clock, conversations=10, duration=60)
    topics = tuple(scenario.truth.queue_topics())

    with running_pipeline(simulator, clock, local_stores(tmp_path, clock), topics) as pipeline:
        simulator.load(scenario)
        pipeline.run_for(20)
        [old] = live_channels(simulator)
        simulator.faults.fail_next("PUT", SUBSCRIPTIONS, status=429, retry_after=5)
        simulator.faults.send_socket_closing()
        pipeline.wait_for(lambda: simulator.faults.counts.get("fail_next", 0) == 1)
        simulator.faults.drop_sockets(old)
        pipeline.wait_for(lambda: pipeline.totals().get("Reconnects", 0) >= 1)
        pipeline.run_for(10)
        live = live_channels(simulator)
        pipeline.run_for(until_last_emission(scenario, clock))
        created = pipeline.requests("POST", CHANNELS)
        totals = pipeline.totals()
        gaps = backfilled_gaps(pipeline)
        comparison = pipeline.compare(scenario)

    assert len(live) == 1
    assert live != [old]
    assert len(created) == 2
    assert totals["Gaps"] == 1
    assert gaps == 1
    assert comparison.all_match


def test_replacement_channel_gone(simulator: Simulator, clock: FakeClock, tmp_path: Path) -> None:
    """The channel being set up for a switch is evicted before its subscriptions succeed."""
    scenario = traffic(clock, conversations=10, duration=60)
    topics = tuple(scenario.truth.queue_topics())

    with running_pipeline(simulator, clock, local_stores(tmp_path, clock), topics) as pipeline:
        simulator.load(scenario)
        pipeline.run_for(20)
        [old] = live_channels(simulator)
        simulator.faults.fail_next("PUT", SUBSCRIPTIONS, status=503)
        simulator.faults.send_socket_closing()
        pipeline.wait_for(lambda: len(pipeline.requests("POST", CHANNELS)) == 2)
        pipeline.wait_for(lambda: simulator.faults.counts.get("fail_next", 0) == 1)
        replacement = pipeline.requests("POST", CHANNELS)[1]
        [evicted] = [channel for channel in simulator.channels if channel != old]
        simulator.faults.evict_channel(evicted)
        pipeline.run_for(until_last_emission(scenario, clock))
        created = pipeline.requests("POST", CHANNELS)
        live = live_channels(simulator)
        totals = pipeline.totals()
        comparison = pipeline.compare(scenario)

    assert replacement.status == 200
    assert len(created) == 3
    assert len(live) == 1
    assert live[0] not in (old, evicted)
    assert totals["ChannelRotations"] == 1
    assert totals.get("Gaps", 0) == 0
    assert comparison.all_match
