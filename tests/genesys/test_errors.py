import logging

import orjson
import pytest
import requests

from genesys.auth import OAuthClient
from genesys.errors import (
    ApiError,
    GenesysError,
    NotFoundError,
    RateLimitedError,
    ServerError,
    TransportError,
)
from genesys.http import error_for_outcome
from genesys.retry import Decision, Failure, Outcome
from genesys_stream.clock import FakeClock
from tests.genesys.token_endpoint import TokenEndpoint

PATH = "/api/v2/notifications/channels/{channel_id}"


def failed(status: int, body: object = None, attempts: int = 1, reason: str = "") -> Outcome:
    response = requests.Response()
    response.status_code = status
    response._content = orjson.dumps(body) if body is not None else b""
    response._content_consumed = True
    return Outcome(response, None, attempts, Failure(status), Decision(None, reason))


def test_success_is_no_error() -> None:
    response = requests.Response()
    response.status_code = 200

    assert error_for_outcome(Outcome(response, None, 1), "GET", PATH) is None


@pytest.mark.parametrize(
    ("status", "kind"),
    [
        (400, ApiError),
        (403, ApiError),
        (404, NotFoundError),
        (500, ServerError),
        (503, ServerError),
    ],
)
def test_status_maps_to_error_type(status: int, kind: type[ApiError]) -> None:
    error = error_for_outcome(failed(status), "HEAD", PATH)

    assert type(error) is kind
    assert isinstance(error, ApiError)
    assert error.status == status
    assert error.method == "HEAD"
    assert error.path_template == PATH


def test_error_message_carries_genesys_body() -> None:
    body = {"code": "not.found", "message": "Channel not found", "contextId": "ctx-1"}

    error = error_for_outcome(failed(404, body), "GET", PATH)

    assert isinstance(error, NotFoundError)
    assert "GET /api/v2/notifications/channels/{channel_id}" in str(error)
    assert "HTTP 404" in str(error)
    assert "not.found: Channel not found" in str(error)
    assert error.context_id == "ctx-1"


def test_error_message_truncates_long_body() -> None:
    error = error_for_outcome(failed(400, {"message": "x" * 5000}), "PUT", PATH)

    assert len(str(error)) < 600


def test_rate_limited_error_states_why() -> None:
    outcome = Outcome(
        failed(429).response,
        None,
        1,
        Failure(429, retry_after=600.0),
        Decision(None, "Retry-After of 600 s is above the 180 s limit."),
    )

    error = error_for_outcome(outcome, "POST", "/api/v2/notifications/channels")

    assert isinstance(error, RateLimitedError)
    assert error.retry_after == 600.0
    assert "600 s is above the 180 s limit" in str(error)


def test_server_error_counts_attempts() -> None:
    error = error_for_outcome(failed(503, attempts=5, reason="All 5 attempts failed."), "GET", PATH)

    assert isinstance(error, ServerError)
    assert error.attempts == 5
    assert "Gave up after 5 attempt(s)" in str(error)


def test_transport_error_names_host_not_headers() -> None:
    request = requests.Request(
        "GET", "http://127.0.0.1:9/api/v2/users", headers={"Authorization": "Bearer tok-xyz"}
    ).prepare()
    exc = requests.ConnectionError("refused", request=request)

    error = error_for_outcome(
        Outcome(None, exc, 5, Failure(None), Decision(None, "All 5 attempts failed.")),
        "GET",
        "/api/v2/users",
    )

    assert isinstance(error, TransportError)
    assert "127.0.0.1:9" in str(error)
    assert "tok-xyz" not in str(error)
    assert error.attempts == 5


def test_every_error_is_genesys_error() -> None:
    for kind in (ApiError, NotFoundError, RateLimitedError, ServerError, TransportError):
        assert issubclass(kind, GenesysError)


def test_token_logs_hide_secrets(
    token_endpoint: TokenEndpoint, caplog: pytest.LogCaptureFixture
) -> None:
    client = OAuthClient(token_endpoint.url, "client-42", "secret-9", FakeClock(), timeout=5.0)

    with caplog.at_level(logging.DEBUG):
        token = client.request_token()

    logged = " ".join(str(record.__dict__) for record in caplog.records)
    assert "oauth.token_obtained" in logged
    assert token.value not in logged
    assert "secret-9" not in logged
