"""TokenActor: the OAuth token, renewed before it expires.

Genesys tokens carry no refresh token; renewing means asking for a new one.
The actor asks at ``renew_fraction`` of ``expires_in`` and, when that fails
with a server or network error, keeps the current token while it is still
valid and retries with back-off. Bad credentials (400/401) are not retried:
the actor tells the Supervisor, which stops the service with an error that
names the client id and never the secret.

Other actors read the token through ``TokenHolder`` (a lock-guarded value,
no message round trip per API call) and are told ``TokenRotated`` after each
renewal, because a channel does not outlive the token that created it.
"""

from __future__ import annotations

import logging
import random
import threading
from typing import Any

import pykka

from actors.messages import ChildFailed, TokenRotated, teller
from genesys.auth import AccessToken, OAuthClient
from genesys.errors import AuthenticationError, GenesysError
from genesys_stream.clock import Clock, Timer
from handlers.backoff import Backoff

log = logging.getLogger(__name__)


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

    def current(self) -> AccessToken:
        """Return the current token, waiting up to 30 s for the first one."""
        if not self._ready.wait(timeout=30.0):
            raise GenesysError("No access token was obtained within 30 s of start.")
        with self._lock:
            assert self._token is not None
            return self._token


class Renew:
    """Timer message: ask for a new token."""


class TokenActor(pykka.ThreadingActor):
    """Owns the OAuth token and its renewal."""

    def __init__(
        self,
        *,
        oauth: OAuthClient,
        holder: TokenHolder,
        clock: Clock,
        supervisor: pykka.ActorRef[Any] | None,
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
        self.timer: Timer | None = None
        self.token: AccessToken | None = None

    def on_start(self) -> None:
        # The first token is fetched here, so a bad credential stops start-up at once.
        self._renew(first=True)

    def on_stop(self) -> None:
        if self.timer is not None:
            self.timer.cancel()

    def on_receive(self, message: Any) -> Any:
        if isinstance(message, Renew):
            self._renew(first=False)
        elif isinstance(message, tuple) and message[0] == "subscribe":
            self.subscribers.append(message[1])
        return None

    def _renew(self, *, first: bool) -> None:
        try:
            token = self.oauth.request_token()
        except AuthenticationError as exc:
            log.error(
                "token.rejected", extra={"client_id": self.oauth.client_id, "error": str(exc)}
            )
            if self.supervisor is not None:
                self.supervisor.tell(ChildFailed("token", str(exc)))
            if first:
                raise
            return
        except GenesysError as exc:
            self._retry(exc)
            return

        self.attempt = 0
        self.token = token
        self.holder.set(token)
        renew_in = token.expires_in * self.renew_fraction
        log.info("token.obtained", extra={"expires_in": token.expires_in, "renew_in": renew_in})
        self._schedule(renew_in)
        if not first:
            for subscriber in self.subscribers:
                subscriber.tell(TokenRotated(token.expires_at))

    def _retry(self, exc: GenesysError) -> None:
        delay = self.backoff.delay(self.attempt)
        self.attempt += 1
        now = self.clock.time()
        remaining = self.token.remaining(now) if self.token is not None else 0.0
        log.warning(
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
