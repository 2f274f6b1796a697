"""Fixtures for handler tests: the published sample payloads."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
import pytest

SAMPLES = Path(__file__).parents[1] / "samples"


@pytest.fixture
def sample_text() -> Callable[[str], bytes]:
    """Return a function that reads one sample file as bytes."""

    def read(name: str) -> bytes:
        return (SAMPLES / name).read_bytes()

    return read


@pytest.fixture
def sample() -> Callable[[str], Any]:
    """Return a function that reads one sample file as JSON."""

    def read(name: str) -> Any:
        return orjson.loads((SAMPLES / name).read_bytes())

    return read
