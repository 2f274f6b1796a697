import pytest

from genesys.errors import ConfigurationError, GenesysError, InvalidArgumentError
from genesys.http import (
    validate_base_url,
    validate_channel_id,
    validate_conversation_id,
    validate_timeout,
)


def test_conversation_id_accepts_uuid() -> None:
    value = "1bc96a39-6725-40c4-9345-db72aa67b8c6"

    assert validate_conversation_id(value) == value
    assert validate_conversation_id(value.upper()) == value.upper()


@pytest.mark.parametrize(
    "value",
    [
        "",
        "not-a-uuid",
        "1bc96a39672540c49345db72aa67b8c6",
        "{1bc96a39-6725-40c4-9345-db72aa67b8c6}",
        "1bc96a39-6725-40c4-9345-db72aa67b8c6/../users",
        "1bc96a39-6725-40c4-9345-db72aa67b8c6\n",
    ],
)
def test_conversation_id_rejects_others(value: str) -> None:
    with pytest.raises(InvalidArgumentError) as caught:
        validate_conversation_id(value)

    assert repr(value) in str(caught.value)


def test_invalid_argument_is_value_error() -> None:
    assert issubclass(InvalidArgumentError, ValueError)
    assert issubclass(InvalidArgumentError, GenesysError)


def test_channel_id_accepts_genesys_form() -> None:
    value = "streaming-2-aa5h48uk0srhpugh2994klj918"

    assert validate_channel_id(value) == value


@pytest.mark.parametrize("value", ["", "a/b", "a?b=1", "a b", "../x", "chan%2F", "id\n"])
def test_channel_id_rejects_others(value: str) -> None:
    with pytest.raises(InvalidArgumentError) as caught:
        validate_channel_id(value)

    assert repr(value) in str(caught.value)


def test_base_url_strips_trailing_slash() -> None:
    assert validate_base_url("https://api.mypurecloud.ie/", "api") == "https://api.mypurecloud.ie"
    assert validate_base_url("http://127.0.0.1:8080", "api") == "http://127.0.0.1:8080"


@pytest.mark.parametrize(
    "url", ["api.mypurecloud.ie", "ftp://x", "https://", "https://h/?a=1", "https://u:p@h"]
)
def test_base_url_rejects_others(url: str) -> None:
    with pytest.raises(ConfigurationError, match="api base URL"):
        validate_base_url(url, "api")


def test_timeout_accepts_seconds_and_pairs() -> None:
    assert validate_timeout(10.0) == 10.0
    assert validate_timeout((3.0, 27.0)) == (3.0, 27.0)


@pytest.mark.parametrize("timeout", [0.0, -1.0, (1.0, 0.0), (1.0, 2.0, 3.0)])
def test_timeout_rejects_others(timeout: float | tuple[float, float]) -> None:
    with pytest.raises(ConfigurationError, match="timeout"):
        validate_timeout(timeout)
