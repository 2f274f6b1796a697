"""TokenActor: the OAuth token, renewed before it expires.

Genesys tokens carry no refresh token; renewing means asking for a new one.
The actor requests a new token at ``renew_fraction`` of ``expires_in``. When
that request fails with a
server, network or rate-limit error, the current token stays in use (while it
is still valid) and the actor retries with back-off, honouring
``Retry-After``. Bad credentials (400/401) are never retried: the actor tells
the Supervisor ``Fatal``, which stops the service with an error that names the
client id and never the secret.

Other actors read the token through ``TokenHolder`` (a lock-guarded value,
no message round trip per API call) and are told ``TokenRotated`` after each
renewal, because a channel does not outlive the token that created it.
"""

from __future__ import annotations

import logging
import random
import threading
from dataclasses import dataclass
from typing import Any

import pykka

from actors.messages import ChildFailed, Fatal, TokenRotated, tell, teller
from genesys.auth import AccessToken, OAuthClient
from genesys.errors import AuthenticationError, GenesysError, RateLimitedError
from genesys_stream.clock import Clock, Timer
from handlers.backoff import Backoff

log = logging.getLogger(__name__)

# Seconds API clients wait for the first token before giving up.
FIRST_TOKEN_TIMEOUT = 30.0


class TokenHolder:
    """The current token, shared by every API client of the process."""

    def __init__(self) -> None:
        self._token: AccessToken | None = None
        self._lock = threading.Lock()
        self._ready = threading.Event()

    def set(self, token: AccessToken) -> None:
        with self._lock:
            self._token = token
        self._ready.set()

    def peek(self) -> AccessToken | None:
        """Return the current token without waiting, or None before the first."""
        with self._lock:
            return self._token

    def current(self) -> AccessToken:
        """Return the current token, waiting up to ``FIRST_TOKEN_TIMEOUT`` s for the first one."""
        if not self._ready.wait(timeout=FIRST_TOKEN_TIMEOUT):
            raise GenesysError(
                f"No access token was obtained within {FIRST_TOKEN_TIMEOUT:g} s of start."
            )
        with self._lock:
            assert self._token is not None
            return self._token


def request_first_token(
    oauth: OAuthClient, clock: Clock, backoff: Backoff, attempts: int = 5
) -> AccessToken:
    """Request the first token, retrying server and network errors on the caller's thread.

    Raises ``AuthenticationError`` at once for rejected credentials, and the
    last ``GenesysError`` once ``attempts`` requests have failed.
    """
    for attempt in range(attempts):
        try:
            return oauth.request_token()
        except AuthenticationError:
            raise
        except GenesysError as exc:
            if attempt + 1 >= attempts:
                raise
            delay = _retry_delay(exc, backoff, attempt)
            log.warning(
                "token.request_failed",
                extra={"attempt": attempt + 1, "delay": round(delay, 3), "error": str(exc)},
            )
            clock.sleep(delay)
    raise AssertionError("unreachable: the loop returns or raises")


@dataclass(frozen=True)
class Renew:
    """Timer: ask for a new token."""


@dataclass(frozen=True)
class Subscribe:
    """Tell ``ref`` ``TokenRotated`` after every renewal."""

    ref: pykka.ActorRef[Any]


class TokenActor(pykka.ThreadingActor):
    """Owns the OAuth token and its renewal.

    ``initial`` is a token obtained before the actor started: at service
    start, or by the actor that this one replaces after a failure. Without
    it, the actor requests one in ``on_start``.
    """

    def __init__(
        self,
        *,
        oauth: OAuthClient,
        holder: TokenHolder,
        clock: Clock,
        supervisor: pykka.ActorRef[Any] | None,
        initial: AccessToken | None = None,
        renew_fraction: float = 0.8,
        backoff: Backoff | None = None,
    ) -> None:
        super().__init__()
        if not 0.1 <= renew_fraction <= 0.95:
            raise ValueError(f"renew_fraction must be from 0.1 to 0.95, got {renew_fraction}.")
        self.oauth = oauth
        self.holder = holder
        self.clock = clock
        self.supervisor = supervisor
        self.renew_fraction = renew_fraction
        self.backoff = backoff or Backoff(base=1.0, cap=60.0, rng=random.Random())
        self.subscribers: list[pykka.ActorRef[Any]] = []
        self.attempt = 0
        self.failures = 0
        self.renewals = 0
        self.rejected = False
        self.timer: Timer | None = None
        self.token: AccessToken | None = initial

    # Pykka hooks (run on the actor's thread).

    def on_start(self) -> None:
        if self.token is not None:
            self._adopt(self.token, rotated=False)
        else:
            self._renew(first=True)

    def on_stop(self) -> None:
        if self.timer is not None:
            self.timer.cancel()

    def on_failure(self, exception_type: Any, exception_value: Any, traceback: Any) -> None:
        if self.timer is not None:
            self.timer.cancel()
        if self.supervisor is not None:
            tell(self.supervisor, ChildFailed("token", repr(exception_value)))

    def on_receive(self, message: Any) -> Any:
        match message:
            case Renew():
                self._renew(first=self.token is None)
            case Subscribe(ref=ref):
                self.subscribers.append(ref)
            case "stats":
                return {
                    "renewals": self.renewals,
                    "failures": self.failures,
                    "rejected": self.rejected,
                    "expires_at": None if self.token is None else self.token.expires_at,
                }
        return None

    # Renewal.

    def _renew(self, *, first: bool = False) -> None:
        try:
            token = self.oauth.request_token()
        except AuthenticationError as exc:
            self._rejected(exc)
            return
        except GenesysError as exc:
            self._retry(exc)
            return
        if not first:
            self.renewals += 1
        self._adopt(token, rotated=not first)

    def _adopt(self, token: AccessToken, *, rotated: bool) -> None:
        self.attempt = 0
        self.token = token
        self.holder.set(token)
        renew_in = token.remaining(self.clock.time()) * self.renew_fraction
        log.info(
            "token.obtained",
            extra={"expires_in": token.expires_in, "renew_in": round(renew_in, 3)},
        )
        self._schedule(renew_in)
        if rotated:
            for subscriber in self.subscribers:
                tell(subscriber, TokenRotated(token.expires_at))

    def _rejected(self, exc: AuthenticationError) -> None:
        # Retrying rejected credentials cannot succeed and only adds load.
        self.rejected = True
        log.error(
            "token.rejected",
            extra={"client_id": self.oauth.client_id, "status": exc.status, "error": str(exc)},
        )
        if self.supervisor is not None:
            tell(self.supervisor, Fatal("token", str(exc)))

    def _retry(self, exc: GenesysError) -> None:
        delay = _retry_delay(exc, self.backoff, self.attempt)
        self.attempt += 1
        self.failures += 1
        remaining = self.token.remaining(self.clock.time()) if self.token is not None else 0.0
        level = logging.WARNING if remaining > 0 else logging.ERROR
        log.log(
            level,
            "token.renewal_failed",
            extra={
                "attempt": self.attempt,
                "delay": round(delay, 3),
                "token_remaining": round(remaining, 1),
                "error": str(exc),
            },
        )
        self._schedule(delay)

    def _schedule(self, delay: float) -> None:
        if self.timer is not None:
            self.timer.cancel()
        self.timer = self.clock.call_later(delay, teller(self.actor_ref, Renew()))


def _retry_delay(exc: GenesysError, backoff: Backoff, attempt: int) -> float:
    """Return the wait before the next token request: ``Retry-After`` first, else back-off."""
    if isinstance(exc, RateLimitedError) and exc.retry_after is not None:
        return float(exc.retry_after)
    return backoff.delay(attempt)
