"""Time as a seam: every timer, timeout and timestamp in the service comes from a clock.

``SystemClock`` is real time. ``FakeClock`` moves only when a test (or a
``sleep`` call) advances it, so tests never wait in real time for heartbeats,
back-offs or 24-hour channel expiry.

Timers run their callback on the thread that makes them due: the scheduler
thread for ``SystemClock``, the thread that calls ``advance`` or ``sleep`` for
``FakeClock``. Callbacks must therefore be short and never block; the usual
callback is an actor ``tell``.
"""

from __future__ import annotations

import heapq
import itertools
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol


class Timer(Protocol):
    def cancel(self) -> None:
        """Prevent the callback from running; a no-op once it has run."""


class Clock(Protocol):
    def time(self) -> float:
        """Return wall-clock time in seconds since the Unix epoch."""

    def monotonic(self) -> float:
        """Return a monotonic time in seconds, for durations and deadlines."""

    def sleep(self, seconds: float) -> None:
        """Block the calling thread for ``seconds``."""

    def call_later(self, delay: float, callback: Callable[[], None]) -> Timer:
        """Run ``callback`` once, ``delay`` seconds from now."""


@dataclass(order=True)
class _Entry:
    due: float
    seq: int
    callback: Callable[[], None] = field(compare=False)
    cancelled: bool = field(default=False, compare=False)

    def cancel(self) -> None:
        self.cancelled = True


class SystemClock:
    """Real time, with one daemon scheduler thread for all timers."""

    def __init__(self) -> None:
        self._heap: list[_Entry] = []
        self._seq = itertools.count()
        self._cond = threading.Condition()
        self._thread: threading.Thread | None = None

    def time(self) -> float:
        return time.time()

    def monotonic(self) -> float:
        return time.monotonic()

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            time.sleep(seconds)

    def call_later(self, delay: float, callback: Callable[[], None]) -> Timer:
        entry = _Entry(time.monotonic() + max(0.0, delay), next(self._seq), callback)
        with self._cond:
            heapq.heappush(self._heap, entry)
            if self._thread is None:
                # A daemon thread, so a forgotten timer never keeps the process alive.
                self._thread = threading.Thread(target=self._run, name="clock-timers", daemon=True)
                self._thread.start()
            self._cond.notify()
        return entry

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._heap or self._heap[0].due > time.monotonic():
                    timeout = self._heap[0].due - time.monotonic() if self._heap else None
                    self._cond.wait(timeout)
                entry = heapq.heappop(self._heap)
            if not entry.cancelled:
                entry.callback()


class FakeClock:
    """A clock that moves only when advanced, for tests and simulations.

    ``sleep`` advances the clock instead of blocking, so code that waits out a
    ``Retry-After`` of 59 seconds returns at once with the clock 59 seconds
    later, and any timer due in between has fired.
    """

    def __init__(self, start: float = 1_767_225_600.0) -> None:
        # Default start: 2026-01-01T00:00:00Z, so wall-clock values look real.
        self._wall_offset = start
        self._now = 0.0
        self._heap: list[_Entry] = []
        self._seq = itertools.count()
        self._lock = threading.RLock()
        self._advanced = threading.Condition(self._lock)

    def time(self) -> float:
        with self._lock:
            return self._wall_offset + self._now

    def monotonic(self) -> float:
        with self._lock:
            return self._now

    def sleep(self, seconds: float) -> None:
        self.advance(seconds)

    def call_later(self, delay: float, callback: Callable[[], None]) -> Timer:
        with self._lock:
            entry = _Entry(self._now + max(0.0, delay), next(self._seq), callback)
            heapq.heappush(self._heap, entry)
            return entry

    def pending(self) -> int:
        """Return the number of timers not yet run or cancelled."""
        with self._lock:
            return sum(1 for entry in self._heap if not entry.cancelled)

    def advance(self, seconds: float) -> None:
        """Move time forward, running each timer that falls due, in due order."""
        if seconds < 0:
            raise ValueError(f"Cannot move a clock backwards by {seconds} s.")
        with self._lock:
            target = self._now + seconds
        while True:
            with self._lock:
                if not self._heap or self._heap[0].due > target:
                    self._now = max(self._now, target)
                    self._advanced.notify_all()
                    return
                entry = heapq.heappop(self._heap)
                self._now = max(self._now, entry.due)
                self._advanced.notify_all()
            # Run outside the lock: a callback may set new timers.
            if not entry.cancelled:
                entry.callback()

    def wait_until(self, monotonic_time: float, timeout: float) -> bool:
        """Block until another thread advances the clock to ``monotonic_time``.

        Returns False when ``timeout`` real seconds pass first.
        """
        with self._advanced:
            return self._advanced.wait_for(lambda: self._now >= monotonic_time, timeout)


class ScaledClock(SystemClock):
    """Real time running ``speed`` times faster, for demonstrations.

    A 30-second heartbeat interval passes in one real second at ``speed=30``.
    Both the simulator and the service must share the same instance.
    """

    def __init__(self, speed: float, start: float | None = None) -> None:
        if speed <= 0:
            raise ValueError(f"Clock speed must be positive, got {speed}.")
        super().__init__()
        self._speed = speed
        self._real_origin = time.monotonic()
        self._wall_origin = time.time() if start is None else start

    @property
    def speed(self) -> float:
        """Simulated seconds per real second."""
        return self._speed

    def time(self) -> float:
        return self._wall_origin + (time.monotonic() - self._real_origin) * self._speed

    def monotonic(self) -> float:
        return (time.monotonic() - self._real_origin) * self._speed

    def sleep(self, seconds: float) -> None:
        super().sleep(seconds / self._speed)

    def call_later(self, delay: float, callback: Callable[[], None]) -> Timer:
        return super().call_later(delay / self._speed, callback)
