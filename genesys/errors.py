"""Errors raised by the Genesys Cloud REST client.

Every exception the package raises is a ``GenesysError``; exceptions of
``requests`` are translated at the boundary and chained with ``from``::

    GenesysError
    ├── ConfigurationError      unknown region, invalid base URL or setting
    ├── InvalidArgumentError    also a ValueError: a bad id or argument, rejected before any request
    ├── AuthenticationError     the token endpoint rejected the client credentials (400 or 401)
    ├── ApiError                an HTTP error status from Genesys Cloud
    │   ├── NotFoundError       404
    │   ├── RateLimitedError    429 after the retry policy gave up
    │   └── ServerError         5xx (502, 503 and 504 after the retry policy gave up)
    ├── TransportError          no HTTP response: connection refused or dropped, timeout
    └── InvalidResponseError    a response body that is not the JSON shape Genesys documents

Messages name the request (method and path template) and the status, never an
access token, a client secret, a ``connectUri`` or an ``Authorization`` header.
"""

from __future__ import annotations


class GenesysError(Exception):
    """Base class of every error the Genesys Cloud client raises."""


class ConfigurationError(GenesysError):
    """A setting is invalid: an unknown region, a malformed base URL or timeout."""


class InvalidArgumentError(GenesysError, ValueError):
    """An argument is rejected before any request is sent (an id that is not valid in a URL)."""


class AuthenticationError(GenesysError):
    """The token endpoint rejected the client credentials.

    ``status`` is the HTTP status (400 or 401) and ``client_id`` the OAuth client
    that was rejected. The client secret is never part of the error.
    """

    def __init__(self, message: str, *, status: int, client_id: str) -> None:
        super().__init__(message)
        self.status = status
        self.client_id = client_id


class ApiError(GenesysError):
    """Genesys Cloud returned an HTTP error status for a request.

    ``path_template`` is the path before ids were filled in (for example
    ``/api/v2/conversations/{conversation_id}``), so errors group well in logs.
    ``attempts`` counts the requests sent, retries included; ``context_id`` is the
    correlation id Genesys returns for support cases, when the body has one.
    """

    def __init__(
        self,
        status: int,
        method: str,
        path_template: str,
        message: str,
        *,
        attempts: int = 1,
        context_id: str | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.method = method
        self.path_template = path_template
        self.message = message
        self.attempts = attempts
        self.context_id = context_id


class NotFoundError(ApiError):
    """404: the resource does not exist, or no longer does (an expired channel)."""


class RateLimitedError(ApiError):
    """429 that the retry policy did not wait out.

    Raised when ``Retry-After`` is above the policy's limit or when every attempt
    was rate limited. ``retry_after`` is the last ``Retry-After`` in seconds, or
    None when the response had none.
    """

    def __init__(
        self,
        status: int,
        method: str,
        path_template: str,
        message: str,
        *,
        retry_after: float | None,
        attempts: int = 1,
        context_id: str | None = None,
    ) -> None:
        super().__init__(
            status, method, path_template, message, attempts=attempts, context_id=context_id
        )
        self.retry_after = retry_after


class ServerError(ApiError):
    """5xx from Genesys Cloud; 502, 503 and 504 only after the retry policy gave up."""


class TransportError(GenesysError):
    """No HTTP response arrived: connection refused or dropped, connect or read timeout."""

    def __init__(self, method: str, path_template: str, message: str, *, attempts: int) -> None:
        super().__init__(message)
        self.method = method
        self.path_template = path_template
        self.attempts = attempts


class InvalidResponseError(GenesysError):
    """A successful response whose body is not the JSON shape the call expects."""

    def __init__(self, method: str, path_template: str, message: str) -> None:
        super().__init__(message)
        self.method = method
        self.path_template = path_template
