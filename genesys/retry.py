"""The one retry policy of the Genesys Cloud client, and the loop that applies it.

Rules:

- 429: wait ``Retry-After`` seconds, or give up when it is above
  ``max_retry_after``; a 429 without ``Retry-After`` backs off like a 503.
- 502, 503, 504, connection errors and timeouts: back off with full jitter,
  ``uniform(0, min(max_delay, base_delay * 2**n))`` before retry ``n`` (0 first).
- Every other status (400, 401, 403, 404, 409, 500, ...) is final.
- A request that may have reached the server (the connection broke or timed out
  after it was sent) is repeated only when it is idempotent, so a dropped
  ``POST /channels`` response never costs a second channel.
- At most ``max_attempts`` requests in all, the first included.

``RetryPolicy.decide`` is pure. ``send_with_retries`` sends, decides, logs each
retry once at INFO and waits through ``clock.sleep``. With a ``FakeClock``, a
test therefore returns at once with the clock moved on.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable
from dataclasses import dataclass
from email.utils import parsedate_to_datetime

import requests
from urllib3.exceptions import ConnectTimeoutError, MaxRetryError

from genesys.errors import ConfigurationError
from genesys_stream.clock import Clock
from handlers.backoff import full_jitter

log = logging.getLogger(__name__)

RETRYABLE_STATUSES = frozenset({429, 502, 503, 504})
# Failures with no complete HTTP response: connection refused, dropped or timed out.
_TRANSPORT_ERRORS = (
    requests.ConnectionError,
    requests.Timeout,
    requests.exceptions.ChunkedEncodingError,
)


@dataclass(frozen=True)
class Failure:
    """One failed attempt, in the terms the retry policy uses.

    ``status`` is None when no HTTP response arrived. ``request_sent`` is False
    only when the connection never opened, so the server cannot have acted on it.
    """

    status: int | None
    retry_after: float | None = None
    request_sent: bool = True


@dataclass(frozen=True)
class Decision:
    """The verdict on a failure: retry after ``delay`` seconds, or give up when ``delay`` is None.

    ``reason`` is one sentence for logs and error messages.
    """

    delay: float | None
    reason: str

    @property
    def retry(self) -> bool:
        return self.delay is not None


@dataclass(frozen=True)
class RetryPolicy:
    """Retry rules: the failures retried, the waits and when to give up, times in seconds."""

    max_attempts: int = 5
    base_delay: float = 1.0
    max_delay: float = 60.0
    max_retry_after: float = 180.0

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ConfigurationError(
                f"Retry max_attempts must be 1 or more, got {self.max_attempts}."
            )
        if self.base_delay <= 0 or self.max_delay < self.base_delay:
            raise ConfigurationError(
                f"Retry delays must satisfy 0 < base_delay <= max_delay, got "
                f"base_delay={self.base_delay} s and max_delay={self.max_delay} s."
            )
        if self.max_retry_after < 0:
            raise ConfigurationError(
                f"Retry max_retry_after must be 0 s or more, got {self.max_retry_after}."
            )

    def decide(
        self, failure: Failure, attempt: int, rng: random.Random, *, idempotent: bool = True
    ) -> Decision:
        """Decide whether attempt number ``attempt`` (1 for the first request) is retried."""
        status = failure.status
        if status is not None and status not in RETRYABLE_STATUSES:
            return Decision(None, f"HTTP {status} is not retried.")
        if status is None and failure.request_sent and not idempotent:
            return Decision(
                None,
                "The connection failed after the request was sent, and the request is not "
                "safe to repeat.",
            )
        if (
            status == 429
            and failure.retry_after is not None
            and failure.retry_after > self.max_retry_after
        ):
            return Decision(
                None,
                f"Retry-After of {failure.retry_after:g} s is above the "
                f"{self.max_retry_after:g} s limit.",
            )
        if attempt >= self.max_attempts:
            return Decision(None, f"All {self.max_attempts} attempts failed.")

        if status == 429 and failure.retry_after is not None:
            return Decision(failure.retry_after, "Rate limited: waiting for Retry-After.")
        delay = full_jitter(attempt - 1, self.base_delay, self.max_delay, rng)
        return Decision(delay, "Backing off with full jitter.")


def parse_retry_after(value: str | None, now: float) -> float | None:
    """Return the wait a ``Retry-After`` header requests, in seconds, or None.

    Accepts delay-seconds (Genesys Cloud sends these) and an HTTP date, which is
    measured from ``now`` (Unix seconds). A past date means no wait; an
    unreadable value is treated as absent.
    """
    if value is None:
        return None
    text = value.strip()
    try:
        seconds = float(text)
    except ValueError:
        pass
    else:
        return seconds if seconds >= 0 else None
    try:
        moment = parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    if moment.tzinfo is None:
        return None
    return max(0.0, moment.timestamp() - now)


@dataclass(frozen=True)
class Outcome:
    """The end of a retry loop: the last response or exception, and why the loop stopped.

    Exactly one of ``response`` and ``error`` is set. ``failure`` and ``decision``
    are None when the last response succeeded (status below 400), else the last
    failure and the decision to give up on it.
    """

    response: requests.Response | None
    error: requests.RequestException | None
    attempts: int
    failure: Failure | None = None
    decision: Decision | None = None


def send_with_retries(
    send: Callable[[], requests.Response],
    *,
    policy: RetryPolicy,
    clock: Clock,
    rng: random.Random,
    method: str,
    path_template: str,
    idempotent: bool,
) -> Outcome:
    """Call ``send`` until it succeeds or ``policy`` gives up, waiting through ``clock.sleep``.

    ``send`` performs one request; it may raise ``requests`` exceptions, which end
    up in ``Outcome.error``. Callers translate the outcome into a result or an error.
    """
    attempt = 1
    while True:
        response: requests.Response | None = None
        error: requests.RequestException | None = None
        try:
            response = send()
        except _TRANSPORT_ERRORS as exc:
            error = exc
            failure = Failure(status=None, request_sent=_request_sent(exc))
        except requests.RequestException as exc:
            # An invalid URL or redirect loop: repeating the request cannot help.
            failure = Failure(status=None, request_sent=False)
            return Outcome(None, exc, attempt, failure, Decision(None, "The request is invalid."))
        else:
            if response.status_code < 400:
                return Outcome(response, None, attempt)
            failure = Failure(
                status=response.status_code,
                retry_after=parse_retry_after(response.headers.get("Retry-After"), clock.time()),
            )

        decision = policy.decide(failure, attempt, rng, idempotent=idempotent)
        if decision.delay is None:
            return Outcome(response, error, attempt, failure, decision)

        log.info(
            "http.retry",
            extra={
                "attempt": attempt,
                "max_attempts": policy.max_attempts,
                "delay": round(decision.delay, 3),
                "status": failure.status,
                "error_type": type(error).__name__ if error is not None else None,
                "method": method,
                "path": path_template,
            },
        )
        if response is not None:
            response.close()
        clock.sleep(decision.delay)
        attempt += 1


def _request_sent(exc: requests.RequestException) -> bool:
    """Tell whether the request may have reached the server before ``exc``."""
    if isinstance(exc, requests.ConnectTimeout):
        return False
    # requests wraps a refused or unreachable connection as
    # ConnectionError(MaxRetryError(reason=NewConnectionError)), and urllib3 2
    # makes NewConnectionError a ConnectTimeoutError.
    cause = exc.args[0] if exc.args else None
    return not (isinstance(cause, MaxRetryError) and isinstance(cause.reason, ConnectTimeoutError))
