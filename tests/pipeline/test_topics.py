"""More topics than one channel takes: split across channels, each topic subscribed once."""

import uuid
from pathlib import Path

from genesys_stream.clock import FakeClock
from simulator import Simulator
from tests.pipeline.harness import local_stores, running_pipeline

TOPIC_COUNT = 2_500


def live_channels(simulator: Simulator) -> list[tuple[str, ...]]:
    return [channel.topics for channel in simulator.channels.values() if channel.connected]


def test_topics_split_across_channels(
    simulator: Simulator, clock: FakeClock, tmp_path: Path
) -> None:
    topics = tuple(
        f"v2.routing.queues.{uuid.UUID(int=index)}.conversations" for index in range(TOPIC_COUNT)
    )

    with running_pipeline(simulator, clock, local_stores(tmp_path, clock), topics) as pipeline:
        before = live_channels(simulator)
        simulator.faults.send_socket_closing(close_after=55.0)
        pipeline.run_for(120, step=5)
        after = live_channels(simulator)
        total_channels = len(simulator.channels)
        health = pipeline.service.health()

    for channels in (before, after):
        subscribed = [topic for channel_topics in channels for topic in channel_topics]
        assert len(channels) == 3
        assert all(len(channel_topics) <= 1_000 for channel_topics in channels)
        assert sorted(subscribed) == sorted(topics)
    assert total_channels <= 20
    assert health["ready"] is True
