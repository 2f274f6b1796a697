"""The stores' retry policy, with a fake clock and made-up botocore errors."""

from __future__ import annotations

import logging
import random

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError, ReadTimeoutError

from genesys_stream.clock import FakeClock
from handlers.backoff import Backoff
from stores.retry import RetryPolicy, call_with_retries, is_retryable


def client_error(code: str, status: int = 400) -> ClientError:
    return ClientError(
        {
            "Error": {"Code": code, "Message": "test"},
            "ResponseMetadata": {"HTTPStatusCode": status},
        },
        "PutItem",
    )


@pytest.mark.parametrize(
    ("error", "retryable"),
    [
        (client_error("ProvisionedThroughputExceededException"), True),
        (client_error("ThrottlingException"), True),
        (client_error("RequestLimitExceeded"), True),
        (client_error("SlowDown", 503), True),
        (client_error("InternalServerError", 500), True),
        (client_error("Whatever", 502), True),
        (client_error("ConditionalCheckFailedException"), False),
        (client_error("ValidationException"), False),
        (client_error("AccessDeniedException"), False),
        (EndpointConnectionError(endpoint_url="http://127.0.0.1:1"), True),
        (ReadTimeoutError(endpoint_url="http://127.0.0.1:1"), True),
        (ValueError("bug"), False),
    ],
)
def test_retryable_classification(error: Exception, retryable: bool) -> None:
    assert is_retryable(error) is retryable


def test_budget_counts_attempts() -> None:
    clock = FakeClock()
    budget = RetryPolicy(max_attempts=3).start(clock)

    delays = [budget.next_delay(), budget.next_delay(), budget.next_delay()]

    assert delays[0] is not None
    assert delays[1] is not None
    assert delays[2] is None
    assert budget.attempts == 3


def test_budget_counts_clock_time() -> None:
    clock = FakeClock()
    policy = RetryPolicy(max_elapsed=10.0, backoff=Backoff(base=4.0, cap=4.0, rng=FixedRng()))
    budget = policy.start(clock)

    waited = 0
    while budget.wait("test", "ThrottlingException"):
        waited += 1

    assert waited == 2
    assert clock.monotonic() == 8.0


def test_call_retries_then_returns(caplog: pytest.LogCaptureFixture) -> None:
    clock = FakeClock()
    failures = [client_error("ThrottlingException"), client_error("InternalServerError", 500)]

    def flaky() -> str:
        if failures:
            raise failures.pop(0)
        return "done"

    with caplog.at_level(logging.INFO, logger="stores.retry"):
        result = call_with_retries("dynamodb.put_item", flaky, clock, RetryPolicy(), table="t")

    retries = [r for r in caplog.records if r.getMessage() == "store.retry"]
    assert result == "done"
    assert [r.attempt for r in retries] == [2, 3]
    assert [r.reason for r in retries] == ["ThrottlingException", "InternalServerError"]
    assert all(r.table == "t" for r in retries)
    assert clock.monotonic() > 0


def test_call_raises_final_error_at_once() -> None:
    clock = FakeClock()

    def denied() -> None:
        raise client_error("AccessDeniedException")

    with pytest.raises(ClientError, match="AccessDeniedException"):
        call_with_retries("dynamodb.put_item", denied, clock, RetryPolicy())

    assert clock.monotonic() == 0


@pytest.mark.parametrize(("field", "value"), [("max_attempts", 0), ("max_elapsed", -1.0)])
def test_policy_rejects_invalid_limits(field: str, value: float) -> None:
    with pytest.raises(ValueError, match=field):
        RetryPolicy(**{field: value})  # type: ignore[arg-type]


class FixedRng(random.Random):
    """Draws the top of every range, so waits are exactly the backoff ceiling."""

    def uniform(self, a: float, b: float) -> float:
        return b
