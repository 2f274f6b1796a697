"""One function per figure of the benchmark report."""

from __future__ import annotations

import gc
import statistics
import time
import tracemalloc
from collections.abc import Callable, Sequence

import orjson

from bench.inline import run_inline
from bench.naive import run_naive
from handlers.frames import SnapshotFrame, parse_frame
from handlers.merge import ConversationState, merge
from handlers.normalize import from_frame


def median_rate(runs: int, run: Callable[[], float]) -> float:
    """Return the median of ``runs`` rates, after one untimed warm-up run."""
    return statistics.median(rates(runs, run))


def rates(runs: int, run: Callable[[], float]) -> list[float]:
    """Return ``runs`` rates, after one untimed warm-up run."""
    run()
    return [run() for _ in range(runs)]


def ours_rates(frames: Sequence[str], runs: int, flush_every: int) -> list[float]:
    return rates(runs, lambda: run_inline(frames, flush_every=flush_every).rate)


def naive_cpu_rate(frames: Sequence[str], runs: int) -> float:
    return median_rate(runs, lambda: run_naive(frames).cpu_rate)


def naive_rate(frames: Sequence[str], latency: float) -> float:
    """Return frames per second of real time, with ``latency`` seconds per store call."""
    return run_naive(frames, latency=latency).rate


def reference_rate(frames: Sequence[str], runs: int) -> float:
    """Return frames per CPU second through ``orjson.loads`` and ``orjson.dumps`` alone."""

    def run() -> float:
        started = time.thread_time()
        for frame in frames:
            orjson.dumps(orjson.loads(frame))
        return len(frames) / (time.thread_time() - started)

    return median_rate(runs, run)


def memory_per_conversation(frames: Sequence[str]) -> tuple[int, float]:
    """Merge ``frames`` into a cache of states; return (conversations, bytes per conversation).

    Counts the bytes that tracemalloc traces as allocated and still alive once
    every frame is merged: the states, their caches and the parsed values they
    keep, but not the frame text itself.
    """
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    cache: dict[str, ConversationState] = {}
    for text in frames:
        frame = parse_frame(text, 0.0)
        assert isinstance(frame, SnapshotFrame)
        observation = from_frame(frame)
        cache[observation.conversation_id] = merge(
            cache.get(observation.conversation_id), observation
        ).state
    del frame, observation
    gc.collect()
    after = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    return len(cache), (after - before) / len(cache)
