"""OAuth client credentials for Genesys Cloud, and the token they buy.

``POST <login_url>/oauth/token`` with ``Authorization: Basic base64(id:secret)``
and the form body ``grant_type=client_credentials`` returns ``access_token``,
``token_type`` and ``expires_in`` (seconds, 300 to 172800 depending on the OAuth
client). There is no refresh token: renewing means asking for a new token.

Tokens are opaque. When one happens to parse as a JWT, its region claims are
compared with the configured region and a mismatch is logged as a WARNING; the
configuration always wins.
"""

from __future__ import annotations

import base64
import logging
import random
import threading
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import jwt
import orjson
import requests

from genesys.errors import AuthenticationError, ConfigurationError, InvalidResponseError
from genesys.http import (
    DEFAULT_TIMEOUT,
    Timeout,
    error_for_outcome,
    validate_base_url,
    validate_timeout,
)
from genesys.regions import resolve_region
from genesys.retry import RetryPolicy, send_with_retries
from genesys_stream.clock import Clock

log = logging.getLogger(__name__)

TOKEN_PATH = "/oauth/token"  # noqa: S105 (a URL path, not a password)


@dataclass(frozen=True)
class AccessToken:
    """An OAuth access token and its lifetime.

    ``obtained_at`` is Unix time in seconds from the clock and ``expires_in`` is in
    seconds. ``repr`` and ``str`` never show ``value``.
    """

    value: str = field(repr=False)
    token_type: str
    expires_in: float
    obtained_at: float

    @property
    def expires_at(self) -> float:
        """Unix time in seconds at which Genesys Cloud stops accepting the token."""
        return self.obtained_at + self.expires_in

    @property
    def authorization(self) -> str:
        """Value of the ``Authorization`` header for API requests."""
        return f"Bearer {self.value}"

    def remaining(self, now: float) -> float:
        """Return the seconds left until ``expires_at``, negative once expired."""
        return self.expires_at - now


class OAuthClient:
    """Requests access tokens with the client credentials grant.

    ``timeout`` is in seconds, for connecting and for each read. 429, 502, 503,
    504 and connection errors are retried by ``policy``; 400 and 401 raise
    ``AuthenticationError`` at once, because repeating bad credentials only
    adds load. ``region_domain`` is the domain that JWT claims are checked
    against; by default it is the ``login_url`` host without ``login.``.
    """

    def __init__(
        self,
        login_url: str,
        client_id: str,
        client_secret: str,
        clock: Clock,
        session: requests.Session | None = None,
        timeout: Timeout = DEFAULT_TIMEOUT,
        *,
        policy: RetryPolicy | None = None,
        rng: random.Random | None = None,
        region_domain: str | None = None,
    ) -> None:
        if not client_id:
            raise ConfigurationError("The OAuth client id is empty; set the client id.")
        if not client_secret:
            raise ConfigurationError(
                f"The OAuth client secret for client id {client_id!r} is empty; set the secret."
            )
        self._login_url = validate_base_url(login_url, "login")
        self._client_id = client_id
        self._basic = base64.b64encode(f"{client_id}:{client_secret}".encode()).decode("ascii")
        self._clock = clock
        self._owns_session = session is None
        self._session = session if session is not None else requests.Session()
        self._timeout = validate_timeout(timeout)
        self._policy = policy if policy is not None else RetryPolicy()
        self._rng = rng if rng is not None else random.Random()
        self._region_domain = (
            region_domain.lower() if region_domain else _domain_of_login_url(self._login_url)
        )

    @property
    def client_id(self) -> str:
        return self._client_id

    def __repr__(self) -> str:
        return f"OAuthClient(login_url={self._login_url!r}, client_id={self._client_id!r})"

    def close(self) -> None:
        """Close the HTTP session, if this client created it."""
        if self._owns_session:
            self._session.close()

    def request_token(self) -> AccessToken:
        """Request a new access token; raises ``AuthenticationError`` for rejected credentials."""
        url = self._login_url + TOKEN_PATH
        # Start of the last attempt: the token's lifetime runs from no later than this.
        sent_at = self._clock.time()

        def send() -> requests.Response:
            nonlocal sent_at
            sent_at = self._clock.time()
            return self._session.post(
                url,
                headers={
                    "Authorization": f"Basic {self._basic}",
                    "Content-Type": "application/x-www-form-urlencoded",
                    "Accept": "application/json",
                },
                data={"grant_type": "client_credentials"},
                timeout=self._timeout,
                allow_redirects=False,
            )

        outcome = send_with_retries(
            send,
            policy=self._policy,
            clock=self._clock,
            rng=self._rng,
            method="POST",
            path_template=TOKEN_PATH,
            # A repeated request only costs a second token, so a lost response may be re-requested.
            idempotent=True,
        )
        response = outcome.response
        if response is not None and response.status_code in (400, 401):
            raise AuthenticationError(
                f"Genesys Cloud rejected the credentials of OAuth client id {self._client_id!r} "
                f"(HTTP {response.status_code}{_oauth_error_code(response)}). Check the client "
                "id and secret, and that the OAuth client uses the Client Credentials grant.",
                status=response.status_code,
                client_id=self._client_id,
            )
        error = error_for_outcome(outcome, "POST", TOKEN_PATH)
        if error is not None:
            raise error from outcome.error
        assert response is not None  # error_for_outcome returns None only for a success.

        token = _parse_token(response, obtained_at=sent_at)
        log.info(
            "oauth.token_obtained",
            extra={"client_id": self._client_id, "expires_in": token.expires_in},
        )
        self._check_claims(token)
        return token

    def _check_claims(self, token: AccessToken) -> None:
        claims = _jwt_claims(token.value)
        if claims is None:
            return
        for claim, domain in _claimed_domains(claims):
            if domain != self._region_domain and not domain.endswith("." + self._region_domain):
                log.warning(
                    "oauth.token_region_mismatch",
                    extra={
                        "client_id": self._client_id,
                        "claim": claim,
                        "claimed_domain": domain,
                        "configured_domain": self._region_domain,
                    },
                )


class RefreshingTokenSource:
    """A ``TokenSource`` that keeps one token and requests a new one before it expires.

    A new token is requested once ``refresh_fraction`` of the current one's
    lifetime has passed. Thread-safe: one caller requests, the others wait for it.
    """

    def __init__(self, oauth: OAuthClient, clock: Clock, refresh_fraction: float = 0.8) -> None:
        if not 0 < refresh_fraction <= 1:
            raise ConfigurationError(
                f"Token refresh_fraction must be in (0, 1], got {refresh_fraction}."
            )
        self._oauth = oauth
        self._clock = clock
        self._refresh_fraction = refresh_fraction
        self._lock = threading.Lock()
        self._token: AccessToken | None = None

    def current(self) -> AccessToken:
        """Return a token that is not due for renewal, requesting one when needed."""
        with self._lock:
            token = self._token
            if token is None or self._due(token):
                token = self._oauth.request_token()
                self._token = token
            return token

    def invalidate(self) -> None:
        """Drop the current token, so the next ``current`` requests a new one."""
        with self._lock:
            self._token = None

    def _due(self, token: AccessToken) -> bool:
        renew_at = token.obtained_at + token.expires_in * self._refresh_fraction
        return self._clock.time() >= renew_at


def _parse_token(response: requests.Response, obtained_at: float) -> AccessToken:
    try:
        body: Any = orjson.loads(response.content)
    except orjson.JSONDecodeError as exc:
        raise InvalidResponseError(
            "POST", TOKEN_PATH, "The token endpoint returned a body that is not JSON."
        ) from exc
    if not isinstance(body, dict):
        raise InvalidResponseError("POST", TOKEN_PATH, "The token response is not a JSON object.")

    value = body.get("access_token")
    token_type = body.get("token_type", "bearer")
    expires_in = body.get("expires_in")
    if not isinstance(value, str) or not value:
        raise InvalidResponseError(
            "POST", TOKEN_PATH, "The token response has no access_token string."
        )
    if not isinstance(token_type, str):
        raise InvalidResponseError(
            "POST", TOKEN_PATH, "The token response has a non-string token_type."
        )
    if isinstance(expires_in, bool) or not isinstance(expires_in, int | float) or expires_in <= 0:
        raise InvalidResponseError(
            "POST",
            TOKEN_PATH,
            f"The token response has expires_in={expires_in!r}; expected seconds above 0.",
        )
    return AccessToken(value, token_type, float(expires_in), obtained_at)


def _oauth_error_code(response: requests.Response) -> str:
    """Return ``": <error>"`` from an OAuth error body, or an empty string."""
    try:
        body = orjson.loads(response.content)
    except orjson.JSONDecodeError:
        return ""
    code = body.get("error") if isinstance(body, dict) else None
    if isinstance(code, str) and code.replace("_", "").isalnum() and len(code) <= 64:
        return f": {code}"
    return ""


def _jwt_claims(value: str) -> dict[str, Any] | None:
    """Return the claims of a JWT without checking its signature, or None for an opaque token."""
    if value.count(".") != 2:
        return None
    try:
        claims = jwt.decode(value, options={"verify_signature": False})
    except jwt.PyJWTError:
        return None
    return claims if isinstance(claims, dict) else None


def _claimed_domains(claims: dict[str, Any]) -> list[tuple[str, str]]:
    """Return (claim, domain) for each claim that names a region: ``region``, ``iss`` host."""
    found: list[tuple[str, str]] = []
    region = claims.get("region")
    if isinstance(region, str) and region.strip():
        try:
            found.append(("region", resolve_region(region).domain))
        except ConfigurationError:
            found.append(("region", region.strip().lower()))
    issuer = claims.get("iss")
    if isinstance(issuer, str) and issuer.strip():
        host = urlsplit(issuer if "//" in issuer else f"//{issuer}").hostname
        if host:
            found.append(("iss", host.lower()))
    return found


def _domain_of_login_url(login_url: str) -> str:
    host = (urlsplit(login_url).hostname or "").lower()
    return host.removeprefix("login.")
