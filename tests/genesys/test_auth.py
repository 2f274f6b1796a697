import base64
import logging
from urllib.parse import parse_qs

import jwt
import pytest

from genesys.auth import AccessToken, OAuthClient, RefreshingTokenSource
from genesys.errors import AuthenticationError, ConfigurationError, InvalidResponseError
from genesys_stream.clock import FakeClock
from tests.genesys.token_endpoint import TokenEndpoint

SECRET = "s3cr3t-value-never-shown"


def make_jwt(claims: dict[str, object]) -> str:
    return jwt.encode(claims, "any-key-at-all-for-hs256-signing", algorithm="HS256")


def oauth(endpoint: TokenEndpoint, clock: FakeClock, domain: str = "mypurecloud.ie") -> OAuthClient:
    return OAuthClient(endpoint.url, "client-42", SECRET, clock, timeout=5.0, region_domain=domain)


def test_access_token_repr_hides_value() -> None:
    token = AccessToken("tok-value-123", "bearer", 86400.0, 1000.0)

    assert "tok-value-123" not in repr(token)
    assert "tok-value-123" not in str(token)
    assert token.expires_at == 87400.0
    assert token.remaining(now=87000.0) == 400.0


def test_oauth_client_repr_hides_secret() -> None:
    client = OAuthClient("https://login.mypurecloud.ie", "client-42", SECRET, FakeClock())

    assert SECRET not in repr(client)
    assert "client-42" in repr(client)


def test_oauth_empty_secret_rejected() -> None:
    with pytest.raises(ConfigurationError, match="client-42"):
        OAuthClient("https://login.mypurecloud.ie", "client-42", "", FakeClock())


def test_request_token_sends_basic_and_form(token_endpoint: TokenEndpoint) -> None:
    clock = FakeClock()

    token = oauth(token_endpoint, clock).request_token()

    request = token_endpoint.received[0]
    expected = base64.b64encode(f"client-42:{SECRET}".encode()).decode()
    assert request.path == "/oauth/token"
    assert request.headers["Authorization"] == f"Basic {expected}"
    assert request.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert parse_qs(request.body.decode()) == {"grant_type": ["client_credentials"]}
    assert token.value == "opaque-token"
    assert token.expires_in == 86400.0
    assert token.obtained_at == clock.time()


def test_request_token_401_names_client_not_secret(token_endpoint: TokenEndpoint) -> None:
    token_endpoint.reply(401, {"error": "invalid_client", "description": "bad"})

    with pytest.raises(AuthenticationError) as caught:
        oauth(token_endpoint, FakeClock()).request_token()

    assert "client-42" in str(caught.value)
    assert "invalid_client" in str(caught.value)
    assert SECRET not in str(caught.value)
    assert caught.value.status == 401
    assert len(token_endpoint.received) == 1


def test_request_token_400_not_retried(token_endpoint: TokenEndpoint) -> None:
    token_endpoint.reply(400, {"error": "unsupported_grant_type"})

    with pytest.raises(AuthenticationError):
        oauth(token_endpoint, FakeClock()).request_token()

    assert len(token_endpoint.received) == 1


@pytest.mark.parametrize(
    "body",
    [
        {"token_type": "bearer", "expires_in": 60},
        {"access_token": "x", "token_type": "bearer", "expires_in": 0},
        {"access_token": "x", "token_type": "bearer", "expires_in": "soon"},
        ["not", "an", "object"],
    ],
)
def test_request_token_bad_body_rejected(token_endpoint: TokenEndpoint, body: object) -> None:
    token_endpoint.reply(200, body)

    with pytest.raises(InvalidResponseError):
        oauth(token_endpoint, FakeClock()).request_token()


def test_jwt_region_mismatch_warns(
    token_endpoint: TokenEndpoint, caplog: pytest.LogCaptureFixture
) -> None:
    value = make_jwt({"region": "us-east-1", "sub": "client-42"})
    token_endpoint.reply(200, {"access_token": value, "token_type": "bearer", "expires_in": 600})

    with caplog.at_level(logging.INFO, logger="genesys.auth"):
        oauth(token_endpoint, FakeClock(), domain="mypurecloud.ie").request_token()

    warnings = [record for record in caplog.records if record.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert warnings[0].getMessage() == "oauth.token_region_mismatch"
    assert warnings[0].__dict__["claim"] == "region"
    assert warnings[0].__dict__["claimed_domain"] == "mypurecloud.com"
    assert warnings[0].__dict__["configured_domain"] == "mypurecloud.ie"
    assert all(value not in str(record.__dict__) for record in caplog.records)


def test_jwt_issuer_host_mismatch_warns(
    token_endpoint: TokenEndpoint, caplog: pytest.LogCaptureFixture
) -> None:
    value = make_jwt({"iss": "https://login.mypurecloud.de/"})
    token_endpoint.reply(200, {"access_token": value, "token_type": "bearer", "expires_in": 600})

    with caplog.at_level(logging.WARNING, logger="genesys.auth"):
        oauth(token_endpoint, FakeClock(), domain="mypurecloud.ie").request_token()

    assert [record.__dict__["claimed_domain"] for record in caplog.records] == [
        "login.mypurecloud.de"
    ]


def test_jwt_matching_region_silent(
    token_endpoint: TokenEndpoint, caplog: pytest.LogCaptureFixture
) -> None:
    value = make_jwt({"region": "eu-west-1", "iss": "https://login.mypurecloud.ie"})
    token_endpoint.reply(200, {"access_token": value, "token_type": "bearer", "expires_in": 600})

    with caplog.at_level(logging.WARNING, logger="genesys.auth"):
        token = oauth(token_endpoint, FakeClock(), domain="mypurecloud.ie").request_token()

    assert caplog.records == []
    assert token.value == value


def test_opaque_token_silent(
    token_endpoint: TokenEndpoint, caplog: pytest.LogCaptureFixture
) -> None:
    token_endpoint.reply(200, {"access_token": "a.b.c", "token_type": "bearer", "expires_in": 600})

    with caplog.at_level(logging.WARNING, logger="genesys.auth"):
        oauth(token_endpoint, FakeClock()).request_token()

    assert caplog.records == []


def test_region_domain_defaults_to_login_host(
    token_endpoint: TokenEndpoint, caplog: pytest.LogCaptureFixture
) -> None:
    value = make_jwt({"region": "eu-west-1"})
    token_endpoint.reply(200, {"access_token": value, "token_type": "bearer", "expires_in": 600})
    client = OAuthClient(token_endpoint.url, "client-42", SECRET, FakeClock())

    with caplog.at_level(logging.WARNING, logger="genesys.auth"):
        client.request_token()

    assert [record.__dict__["configured_domain"] for record in caplog.records] == ["127.0.0.1"]


def test_refreshing_source_reuses_until_due(token_endpoint: TokenEndpoint) -> None:
    clock = FakeClock()
    token_endpoint.reply(200, {"access_token": "t1", "token_type": "bearer", "expires_in": 1000})
    source = RefreshingTokenSource(oauth(token_endpoint, clock), clock, refresh_fraction=0.8)

    first = source.current()
    clock.advance(799)
    second = source.current()
    clock.advance(1)
    third = source.current()

    assert first is second
    assert third is not first
    assert len(token_endpoint.received) == 2


def test_refreshing_source_invalidate(token_endpoint: TokenEndpoint) -> None:
    clock = FakeClock()
    source = RefreshingTokenSource(oauth(token_endpoint, clock), clock)

    source.current()
    source.invalidate()
    source.current()

    assert len(token_endpoint.received) == 2
