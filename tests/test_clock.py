from genesys_stream.clock import FakeClock


def test_fake_clock_runs_timers_in_due_order() -> None:
    clock = FakeClock()
    fired: list[str] = []
    clock.call_later(5, lambda: fired.append("five"))
    clock.call_later(1, lambda: fired.append("one"))
    cancelled = clock.call_later(3, lambda: fired.append("three"))
    cancelled.cancel()

    clock.advance(10)

    assert fired == ["one", "five"]
    assert clock.monotonic() == 10


def test_fake_clock_sleep_advances_time() -> None:
    clock = FakeClock(start=1000.0)

    clock.sleep(59)

    assert clock.time() == 1059.0
