import pytest

from genesys.errors import ConfigurationError
from genesys.regions import REGIONS, Region, resolve_region


def test_regions_table_complete() -> None:
    assert len(REGIONS) == 18
    assert len({region.aws_region for region in REGIONS}) == 18
    assert len({region.domain for region in REGIONS}) == 18


def test_resolve_by_aws_region() -> None:
    region = resolve_region("eu-west-1")

    assert region.domain == "mypurecloud.ie"


def test_resolve_by_domain() -> None:
    region = resolve_region("mypurecloud.com.au")

    assert region.aws_region == "ap-southeast-2"


def test_resolve_ignores_case_and_spaces() -> None:
    assert resolve_region("  EU-Central-1 ").domain == "mypurecloud.de"
    assert resolve_region("USE2.US-GOV-PURE.CLOUD\n").aws_region == "us-east-2"


@pytest.mark.parametrize("region", REGIONS, ids=lambda region: region.aws_region)
def test_resolve_every_region_both_ways(region: Region) -> None:
    assert resolve_region(region.aws_region) is region
    assert resolve_region(region.domain) is region


def test_region_urls() -> None:
    region = resolve_region("us-east-1")

    assert region.login_url == "https://login.mypurecloud.com"
    assert region.api_url == "https://api.mypurecloud.com"


def test_unknown_region_lists_valid_names() -> None:
    with pytest.raises(ConfigurationError) as caught:
        resolve_region("eu-west-9")

    message = str(caught.value)
    assert "'eu-west-9'" in message
    assert "eu-west-1" in message
    assert "mypurecloud.ie" in message
    assert "apne3.pure.cloud" in message
