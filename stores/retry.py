"""The one retry policy of the AWS stores: what is retried, how long to wait, when to give up.

Retried: throttling (``ProvisionedThroughputExceededException``,
``ThrottlingException``, ``RequestLimitExceeded``, ``SlowDown``, ...), every 5xx
response, and failures with no response at all (connection refused or dropped,
connect or read timeout). Everything else is final. A retried request may have
reached AWS the first time: FIFO deduplication and the state store's own-write
check make that harmless, but a standard queue may then deliver a message twice.

Waits are full-jitter exponential backoff, ``uniform(0, min(cap, base * 2**n))``
before retry ``n``. The budget is both a number of attempts and a span of clock
time from the first attempt. A store keeps trying through a sustained outage (a
60 s throttling episode fits the default budget of 120 s), then hands the work back.
Clients from ``stores.aws`` have botocore's own retries off, so every retry
happens here, waits through ``clock.sleep`` and is logged once.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

from botocore.exceptions import ClientError, HTTPClientError
from botocore.exceptions import ConnectionError as BotocoreConnectionError

from genesys_stream.clock import Clock
from handlers.backoff import Backoff
from stores.errors import error_code, http_status

log = logging.getLogger(__name__)

T = TypeVar("T")

RETRYABLE_CODES = frozenset(
    {
        "InternalError",
        "InternalFailure",
        "InternalServerError",
        "KmsThrottled",
        "LimitExceededException",
        "ProvisionedThroughputExceededException",
        "RequestLimitExceeded",
        "RequestThrottled",
        "RequestThrottledException",
        "ServiceUnavailable",
        "SlowDown",
        "Throttling",
        "ThrottlingException",
        "TooManyRequestsException",
        "TransactionInProgressException",
        "AWS.SimpleQueueService.KmsThrottled",
        "AWS.SimpleQueueService.RequestThrottled",
    }
)


def is_retryable(exc: BaseException) -> bool:
    """Return True when ``exc`` is a throttle, a 5xx or a failure with no response."""
    if isinstance(exc, ClientError):
        return error_code(exc) in RETRYABLE_CODES or http_status(exc) >= 500
    return isinstance(exc, BotocoreConnectionError | HTTPClientError)


def describe(exc: BaseException) -> str:
    """Return the AWS error code of ``exc``, or its class name when it has none."""
    if isinstance(exc, ClientError):
        return error_code(exc) or f"HTTP {http_status(exc)}"
    return type(exc).__name__


@dataclass(frozen=True)
class RetryPolicy:
    """How long the stores keep retrying; times in seconds of clock time.

    ``max_elapsed`` bounds the time from the first attempt to the last; no retry
    starts once its wait would end past it. ``max_attempts`` counts the first
    attempt.
    """

    max_attempts: int = 100
    max_elapsed: float = 120.0
    backoff: Backoff = field(default_factory=lambda: Backoff(base=0.1, cap=5.0))

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError(f"max_attempts must be 1 or more, got {self.max_attempts}.")
        if self.max_elapsed < 0:
            raise ValueError(f"max_elapsed must be 0 seconds or more, got {self.max_elapsed}.")

    def start(self, clock: Clock) -> RetryBudget:
        """Return a budget that starts counting now."""
        return RetryBudget(self, clock)


class RetryBudget:
    """The attempts and time left for one operation under a ``RetryPolicy``."""

    def __init__(self, policy: RetryPolicy, clock: Clock) -> None:
        self._policy = policy
        self._clock = clock
        self._started = clock.monotonic()
        self.attempts = 1

    def next_delay(self) -> float | None:
        """Count one more attempt and return the wait before it, or None to give up."""
        if self.attempts >= self._policy.max_attempts:
            return None
        delay = self._policy.backoff.delay(self.attempts - 1)
        if self._clock.monotonic() + delay - self._started > self._policy.max_elapsed:
            return None
        self.attempts += 1
        return delay

    def wait(self, operation: str, reason: str, **fields: object) -> bool:
        """Sleep before the next attempt and return True, or return False when the budget is spent.

        ``operation`` and ``reason`` (an error code) go into the one log line per retry.
        """
        delay = self.next_delay()
        if delay is None:
            return False
        log.info(
            "store.retry",
            extra={
                "operation": operation,
                "reason": reason,
                "attempt": self.attempts,
                "delay_seconds": round(delay, 3),
                **fields,
            },
        )
        self._clock.sleep(delay)
        return True


def call_with_retries(
    operation: str,
    call: Callable[[], T],
    clock: Clock,
    policy: RetryPolicy,
    **fields: object,
) -> T:
    """Return ``call()``, retrying retryable failures within ``policy``.

    Raises the last exception when it is final or when the budget is spent.
    ``fields`` are extra log fields, such as the conversation id.
    """
    budget = policy.start(clock)
    while True:
        try:
            return call()
        except (ClientError, BotocoreConnectionError, HTTPClientError) as exc:
            if not is_retryable(exc) or not budget.wait(operation, describe(exc), **fields):
                raise
