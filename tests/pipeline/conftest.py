"""Fixtures of the pipeline tests: one FakeClock, and a simulator on it."""

from collections.abc import Iterator

import pytest

from genesys_stream.clock import FakeClock
from simulator import Simulator


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def simulator(clock: FakeClock) -> Iterator[Simulator]:
    with Simulator(clock=clock) as sim:
        yield sim
