import itertools
import logging
import random
from collections.abc import Callable, Iterator

import pytest
import requests
from urllib3.exceptions import MaxRetryError, NewConnectionError

from genesys.errors import ConfigurationError
from genesys.retry import Failure, Outcome, RetryPolicy, parse_retry_after, send_with_retries
from genesys_stream.clock import FakeClock

POLICY = RetryPolicy()


def response(status: int, retry_after: str | None = None) -> requests.Response:
    made = requests.Response()
    made.status_code = status
    if retry_after is not None:
        made.headers["Retry-After"] = retry_after
    made._content = b"{}"
    made._content_consumed = True
    return made


def refused() -> requests.ConnectionError:
    reason = NewConnectionError(None, "Connection refused")  # type: ignore[arg-type]
    return requests.ConnectionError(MaxRetryError(None, "/", reason))  # type: ignore[arg-type]


Send = Callable[[], requests.Response]


def sender(clock: FakeClock, *results: requests.Response | Exception) -> tuple[Send, list[float]]:
    """Return a send function that plays ``results`` in turn, and the times it was called at."""
    calls: list[float] = []
    queue: Iterator[requests.Response | Exception] = iter(results)

    def send() -> requests.Response:
        calls.append(clock.monotonic())
        result = next(queue)
        if isinstance(result, Exception):
            raise result
        return result

    return send, calls


def run(send: Send, clock: FakeClock, idempotent: bool = True) -> Outcome:
    return send_with_retries(
        send,
        policy=POLICY,
        clock=clock,
        rng=random.Random(3),
        method="POST",
        path_template="/api/v2/notifications/channels",
        idempotent=idempotent,
    )


def test_decide_429_waits_retry_after() -> None:
    decision = POLICY.decide(Failure(429, retry_after=59.0), 1, random.Random(0))

    assert decision.delay == 59.0


def test_decide_429_above_limit_gives_up() -> None:
    decision = POLICY.decide(Failure(429, retry_after=181.0), 1, random.Random(0))

    assert decision.delay is None
    assert "181" in decision.reason
    assert "180" in decision.reason


def test_decide_429_at_limit_waits() -> None:
    decision = POLICY.decide(Failure(429, retry_after=180.0), 1, random.Random(0))

    assert decision.delay == 180.0


def test_decide_429_without_retry_after_backs_off() -> None:
    decision = POLICY.decide(Failure(429), 3, random.Random(0))

    assert decision.delay is not None
    assert 0.0 <= decision.delay <= 4.0


@pytest.mark.parametrize("status", [502, 503, 504])
def test_decide_gateway_errors_jittered(status: int) -> None:
    rng = random.Random(5)

    delays = [POLICY.decide(Failure(status), attempt, rng).delay for attempt in (1, 2, 3, 4)]

    assert all(delay is not None for delay in delays)
    for attempt, delay in zip((1, 2, 3, 4), delays, strict=True):
        assert delay is not None
        assert 0.0 <= delay <= 2.0 ** (attempt - 1)


def test_decide_delay_capped_by_max_delay() -> None:
    policy = RetryPolicy(max_attempts=50, base_delay=1.0, max_delay=5.0)
    rng = random.Random(9)

    delays = [policy.decide(Failure(503), 40, rng).delay for _ in range(100)]

    assert all(delay is not None and delay <= 5.0 for delay in delays)


@pytest.mark.parametrize("status", [400, 401, 403, 404, 409, 500, 501])
def test_decide_final_statuses_not_retried(status: int) -> None:
    decision = POLICY.decide(Failure(status), 1, random.Random(0))

    assert decision.delay is None
    assert str(status) in decision.reason


def test_decide_gives_up_after_max_attempts() -> None:
    decision = POLICY.decide(Failure(503), 5, random.Random(0))

    assert decision.delay is None
    assert "5 attempts" in decision.reason


def test_decide_connection_never_opened_retried_for_post() -> None:
    decision = POLICY.decide(
        Failure(None, request_sent=False), 1, random.Random(0), idempotent=False
    )

    assert decision.delay is not None


def test_decide_dropped_post_not_repeated() -> None:
    decision = POLICY.decide(
        Failure(None, request_sent=True), 1, random.Random(0), idempotent=False
    )

    assert decision.delay is None


def test_decide_dropped_get_repeated() -> None:
    decision = POLICY.decide(Failure(None, request_sent=True), 1, random.Random(0), idempotent=True)

    assert decision.delay is not None


@pytest.mark.parametrize(
    "settings",
    [
        {"max_attempts": 0},
        {"base_delay": 0.0},
        {"base_delay": 10.0, "max_delay": 1.0},
        {"max_retry_after": -1.0},
    ],
)
def test_policy_rejects_bad_settings(settings: dict[str, float]) -> None:
    with pytest.raises(ConfigurationError):
        RetryPolicy(**settings)  # type: ignore[arg-type]


def test_parse_retry_after_seconds() -> None:
    assert parse_retry_after("59", now=0.0) == 59.0
    assert parse_retry_after(" 5 ", now=0.0) == 5.0
    assert parse_retry_after("0", now=0.0) == 0.0


def test_parse_retry_after_http_date() -> None:
    now = 1_767_225_600.0  # 2026-01-01T00:00:00Z

    assert parse_retry_after("Thu, 01 Jan 2026 00:01:00 GMT", now=now) == 60.0
    assert parse_retry_after("Wed, 31 Dec 2025 23:00:00 GMT", now=now) == 0.0


def test_parse_retry_after_unreadable() -> None:
    assert parse_retry_after(None, now=0.0) is None
    assert parse_retry_after("soon", now=0.0) is None
    assert parse_retry_after("-3", now=0.0) is None


def test_send_waits_retry_after_on_clock() -> None:
    clock = FakeClock()
    send, calls = sender(clock, response(429, "59"), response(200))

    outcome = run(send, clock)

    assert outcome.response is not None
    assert outcome.response.status_code == 200
    assert outcome.attempts == 2
    assert calls == [0.0, 59.0]


def test_send_gives_up_on_long_retry_after() -> None:
    clock = FakeClock()
    send, calls = sender(clock, response(429, "600"))

    outcome = run(send, clock)

    assert outcome.attempts == 1
    assert outcome.decision is not None
    assert "600" in outcome.decision.reason
    assert calls == [0.0]


def test_send_503_backs_off_growing_ceilings() -> None:
    clock = FakeClock()
    send, calls = sender(clock, response(503), response(503), response(503), response(200))

    outcome = run(send, clock)

    assert outcome.attempts == 4
    gaps = [later - earlier for earlier, later in itertools.pairwise(calls)]
    assert 0.0 <= gaps[0] <= 1.0
    assert 0.0 <= gaps[1] <= 2.0
    assert 0.0 <= gaps[2] <= 4.0


def test_send_stops_after_max_attempts() -> None:
    clock = FakeClock()
    send, calls = sender(clock, *(response(502) for _ in range(5)))

    outcome = run(send, clock)

    assert outcome.attempts == 5
    assert len(calls) == 5
    assert outcome.response is not None
    assert outcome.response.status_code == 502


def test_send_404_not_retried() -> None:
    clock = FakeClock()
    send, calls = sender(clock, response(404))

    outcome = run(send, clock)

    assert outcome.attempts == 1
    assert outcome.decision is not None
    assert len(calls) == 1


def test_send_refused_connection_retried_for_post() -> None:
    clock = FakeClock()
    send, calls = sender(clock, refused(), refused(), response(200))

    outcome = run(send, clock, idempotent=False)

    assert outcome.response is not None
    assert outcome.attempts == 3
    assert len(calls) == 3


def test_send_read_timeout_not_repeated_for_post() -> None:
    clock = FakeClock()
    send, calls = sender(clock, requests.ReadTimeout("read timed out"))

    outcome = run(send, clock, idempotent=False)

    assert isinstance(outcome.error, requests.ReadTimeout)
    assert outcome.attempts == 1
    assert len(calls) == 1


def test_send_read_timeout_repeated_for_get() -> None:
    clock = FakeClock()
    send, calls = sender(clock, requests.ReadTimeout("read timed out"), response(200))

    outcome = run(send, clock, idempotent=True)

    assert outcome.response is not None
    assert outcome.attempts == 2
    assert len(calls) == 2


def test_send_invalid_request_not_retried() -> None:
    clock = FakeClock()
    send, calls = sender(clock, requests.exceptions.InvalidURL("bad"))

    outcome = run(send, clock)

    assert isinstance(outcome.error, requests.exceptions.InvalidURL)
    assert len(calls) == 1


def test_send_logs_each_retry_once(caplog: pytest.LogCaptureFixture) -> None:
    clock = FakeClock()
    send, _ = sender(clock, response(429, "5"), response(503), response(200))

    with caplog.at_level(logging.INFO, logger="genesys.retry"):
        run(send, clock)

    retries = [record for record in caplog.records if record.getMessage() == "http.retry"]
    assert len(retries) == 2
    assert retries[0].levelno == logging.INFO
    assert retries[0].__dict__["attempt"] == 1
    assert retries[0].__dict__["delay"] == 5.0
    assert retries[0].__dict__["status"] == 429
    assert retries[0].__dict__["method"] == "POST"
    assert retries[0].__dict__["path"] == "/api/v2/notifications/channels"
    assert retries[1].__dict__["attempt"] == 2
    assert retries[1].__dict__["status"] == 503
