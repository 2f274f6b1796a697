"""HTTP plumbing shared by the OAuth and REST clients.

``ApiSession`` sends one API call: it joins the base URL and the path, adds the
bearer token, applies the timeout, runs the retry policy and turns the result
into a response or an error of ``genesys.errors``. Ids that go into a URL path
are checked here first, so a stray ``/`` or ``?`` never changes which resource
a request reaches.
"""

from __future__ import annotations

import logging
import random
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Final, Protocol
from urllib.parse import quote, urlsplit

import orjson
import requests

from genesys.errors import (
    ApiError,
    ConfigurationError,
    GenesysError,
    InvalidArgumentError,
    InvalidResponseError,
    NotFoundError,
    RateLimitedError,
    ServerError,
    TransportError,
)
from genesys.retry import Outcome, RetryPolicy, send_with_retries
from genesys_stream.clock import Clock

if TYPE_CHECKING:
    from genesys.auth import AccessToken

log = logging.getLogger(__name__)

# Seconds; one number for both connect and read, or a (connect, read) pair.
Timeout = float | tuple[float, float]
DEFAULT_TIMEOUT: Final[float] = 10.0

_IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "PUT", "DELETE", "OPTIONS"})
# Matched with fullmatch: "$" would also accept a trailing newline.
_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
_CHANNEL_ID = re.compile(r"[A-Za-z0-9-]+")
# Longest Genesys error message kept in an exception, in characters.
_MAX_DETAIL = 300


class TokenSource(Protocol):
    """Anything that hands out a valid access token, renewing it as needed."""

    def current(self) -> AccessToken:
        """Return a token valid for the next request."""
        ...


def validate_conversation_id(value: str) -> str:
    """Return ``value`` if it is a conversation id (a UUID in 8-4-4-4-12 form), else raise."""
    if not isinstance(value, str) or not _UUID.fullmatch(value):
        raise InvalidArgumentError(
            f"Invalid conversation id {value!r}: expected a UUID such as "
            "'1bc96a39-6725-40c4-9345-db72aa67b8c6'."
        )
    return value


def validate_channel_id(value: str) -> str:
    """Return ``value`` if it is a notification channel id (letters, digits, '-'), else raise."""
    if not isinstance(value, str) or not _CHANNEL_ID.fullmatch(value):
        raise InvalidArgumentError(
            f"Invalid channel id {value!r}: expected only letters, digits and '-', as in the "
            "'id' that POST /api/v2/notifications/channels returns."
        )
    return value


def validate_base_url(url: str, role: str) -> str:
    """Return ``url`` without a trailing '/' if it is an http(s) base URL, else raise.

    ``role`` ("login" or "api") names the setting in the error message.
    """
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigurationError(
            f"Invalid {role} base URL {url!r}: expected http(s)://host[:port], "
            f"for example 'https://{role}.mypurecloud.com'."
        )
    if parts.query or parts.fragment or parts.username or parts.password:
        raise ConfigurationError(
            f"Invalid {role} base URL {url!r}: remove the query, fragment or user info."
        )
    return url.strip().rstrip("/")


def validate_timeout(timeout: Timeout) -> Timeout:
    """Return ``timeout`` if every value in it is a number of seconds above 0, else raise."""
    values = timeout if isinstance(timeout, tuple) else (timeout,)
    if len(values) not in (1, 2) or not all(
        isinstance(value, int | float) and value > 0 for value in values
    ):
        raise ConfigurationError(
            f"Invalid HTTP timeout {timeout!r}: expected seconds above 0, or a "
            "(connect, read) pair of them."
        )
    return timeout


def decode_json(response: requests.Response, method: str, path_template: str) -> Any:
    """Return the JSON body of ``response``; raises ``InvalidResponseError`` when it is not JSON."""
    try:
        return orjson.loads(response.content)
    except orjson.JSONDecodeError as exc:
        raise InvalidResponseError(
            method,
            path_template,
            f"{method} {path_template} returned HTTP {response.status_code} with a body "
            "that is not JSON.",
        ) from exc


def error_for_outcome(outcome: Outcome, method: str, path_template: str) -> GenesysError | None:
    """Return the error that ``outcome`` stands for, or None when it is a success."""
    if outcome.error is not None:
        return _transport_error(outcome, method, path_template)
    response = outcome.response
    if response is None or response.status_code < 400:
        return None

    status = response.status_code
    code, detail, context_id = _error_body(response)
    described = ": ".join(part for part in (code, detail.rstrip(".")) if part)
    described = f" ({described})" if described else ""
    message = f"{method} {path_template} failed with HTTP {status}{described}."
    if status in (429, 502, 503, 504) and outcome.decision is not None:
        message += f" Gave up after {outcome.attempts} attempt(s): {outcome.decision.reason}"
    message += _hint(status)

    common: dict[str, Any] = {"attempts": outcome.attempts, "context_id": context_id}
    if status == 404:
        return NotFoundError(status, method, path_template, message, **common)
    if status == 429:
        retry_after = outcome.failure.retry_after if outcome.failure is not None else None
        return RateLimitedError(
            status, method, path_template, message, retry_after=retry_after, **common
        )
    if status >= 500:
        return ServerError(status, method, path_template, message, **common)
    return ApiError(status, method, path_template, message, **common)


class ApiSession:
    """Sends authenticated calls to the Genesys Cloud REST API on a ``requests.Session``.

    Each attempt takes the token from ``token_source``, so a retry after a token
    rotation uses the new one. ``timeout`` is in seconds, for connecting and for
    each read. A 401 raises ``ApiError`` with status 401: renewing the token is
    the token source's job. A session passed in stays open after ``close``; one
    made here is closed. Like ``requests.Session``, one instance serves one
    thread at a time.
    """

    def __init__(
        self,
        api_url: str,
        token_source: TokenSource,
        clock: Clock,
        *,
        session: requests.Session | None = None,
        timeout: Timeout = DEFAULT_TIMEOUT,
        policy: RetryPolicy | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self._api_url = validate_base_url(api_url, "api")
        self._token_source = token_source
        self._clock = clock
        self._owns_session = session is None
        self._session = session if session is not None else requests.Session()
        self._timeout = validate_timeout(timeout)
        self._policy = policy if policy is not None else RetryPolicy()
        self._rng = rng if rng is not None else random.Random()

    @property
    def api_url(self) -> str:
        return self._api_url

    def close(self) -> None:
        """Close the HTTP session, if this object created it."""
        if self._owns_session:
            self._session.close()

    def request(
        self,
        method: str,
        path_template: str,
        *,
        path_params: Mapping[str, str] | None = None,
        params: Mapping[str, str | int] | None = None,
        body: Any = None,
        idempotent: bool | None = None,
    ) -> requests.Response:
        """Send one call with retries and return its successful response, or raise.

        ``path_template`` contains ``{name}`` fields filled from ``path_params``
        (validated by the caller, percent-encoded here). ``body``, when not None,
        is sent as JSON. ``idempotent`` defaults to True for every method but
        POST; it decides whether a request that may have reached the server is
        repeated after a connection failure.
        """
        path = path_template.format_map(
            {name: quote(value, safe="") for name, value in (path_params or {}).items()}
        )
        url = self._api_url + path
        data = orjson.dumps(body) if body is not None else None
        headers = {"Accept": "application/json"}
        if data is not None:
            headers["Content-Type"] = "application/json"

        def send() -> requests.Response:
            token = self._token_source.current()
            return self._session.request(
                method,
                url,
                params=params,
                data=data,
                headers={**headers, "Authorization": token.authorization},
                timeout=self._timeout,
                allow_redirects=False,
            )

        outcome = send_with_retries(
            send,
            policy=self._policy,
            clock=self._clock,
            rng=self._rng,
            method=method,
            path_template=path_template,
            idempotent=idempotent if idempotent is not None else method in _IDEMPOTENT_METHODS,
        )
        error = error_for_outcome(outcome, method, path_template)
        if error is not None:
            raise error from outcome.error
        assert outcome.response is not None  # error_for_outcome returns None only for a success.
        log.debug(
            "http.response",
            extra={
                "method": method,
                "path": path_template,
                "status": outcome.response.status_code,
                "attempts": outcome.attempts,
            },
        )
        return outcome.response

    def request_json(
        self,
        method: str,
        path_template: str,
        *,
        path_params: Mapping[str, str] | None = None,
        params: Mapping[str, str | int] | None = None,
        body: Any = None,
        idempotent: bool | None = None,
    ) -> Any:
        """Send one call like ``request`` and return its decoded JSON body."""
        response = self.request(
            method,
            path_template,
            path_params=path_params,
            params=params,
            body=body,
            idempotent=idempotent,
        )
        return decode_json(response, method, path_template)


def _transport_error(outcome: Outcome, method: str, path_template: str) -> TransportError:
    error = outcome.error
    host = ""
    if error is not None and error.request is not None and error.request.url:
        parts = urlsplit(error.request.url)
        host = f" to {parts.hostname}" + (f":{parts.port}" if parts.port else "")
    if isinstance(error, requests.ConnectTimeout):
        failure_text = "connecting timed out"
    elif isinstance(error, requests.ReadTimeout):
        failure_text = "no response arrived within the read timeout"
    elif isinstance(error, requests.ConnectionError):
        failure_text = "the connection failed or was dropped"
    else:
        failure_text = f"the request could not be sent ({type(error).__name__})"
    reason = f" {outcome.decision.reason}" if outcome.decision is not None else ""
    return TransportError(
        method,
        path_template,
        f"{method} {path_template}{host} failed after {outcome.attempts} attempt(s): "
        f"{failure_text}.{reason} Check the base URL and the network path to Genesys Cloud.",
        attempts=outcome.attempts,
    )


def _error_body(response: requests.Response) -> tuple[str, str, str | None]:
    """Return (code, message, contextId) from a Genesys error body; empty when absent."""
    try:
        body = orjson.loads(response.content)
    except orjson.JSONDecodeError:
        return "", "", None
    if not isinstance(body, dict):
        return "", "", None
    code = body.get("code")
    message = body.get("message")
    context_id = body.get("contextId")
    return (
        code if isinstance(code, str) else "",
        message[:_MAX_DETAIL] if isinstance(message, str) else "",
        context_id if isinstance(context_id, str) else None,
    )


def _hint(status: int) -> str:
    if status == 401:
        return " The access token is invalid or expired; request a new token."
    if status == 403:
        return " The OAuth client lacks a permission for this call; add it to the client's roles."
    if status == 404:
        return " The resource does not exist or has expired."
    if status == 429:
        return " Reduce the request rate or wait before retrying."
    if status >= 500:
        return " Genesys Cloud failed to handle the request; retry later."
    return ""
